import test from 'ava';
import { newId } from '@payhub/core';

test('ids: prefix and 22 base62 characters, no repeats, every character about equally likely', (t) => {
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const id = newId('ord');
    t.regex(id, /^ord_[0-9A-Za-z]{22}$/);
    seen.add(id);
    for (const c of id.slice(4)) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  t.is(seen.size, n);
  t.is(counts.size, 62);
  // 440,000 characters over 62 symbols: about 7,097 each. A modulo bias (bytes 0–7 twice as likely as a share of
  // 256) would put the first 8 symbols near 8,594; allow ±6 % around the mean.
  const mean = (n * 22) / 62;
  for (const [c, k] of counts) t.true(Math.abs(k - mean) < mean * 0.06, `${c}: ${k} vs ${Math.round(mean)}`);
  t.regex(newId('pay', 30), /^pay_[0-9A-Za-z]{30}$/);
});
