import test from 'ava'; test('placeholder', (t) => t.pass());
