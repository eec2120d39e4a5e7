#!/usr/bin/env node
'use strict';
require('../dist/src/cli.js').main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(err && err.code ? `${err.code}: ${err.message}` : err); process.exitCode = 1; },
);
