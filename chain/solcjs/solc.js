#!/usr/bin/env node
// A solc-compatible command for py-solc-x backed by solc-js (the npm package `solc`).
// Supports `--version` and `--standard-json` (input on stdin, output on stdout). Imports are
// resolved from the project root and from node_modules; output is written synchronously so it
// is never truncated when stdout is a pipe.
'use strict';
const fs = require('fs');
const path = require('path');

const root = process.env.TANHUI_ROOT || path.resolve(__dirname, '..', '..');
const solc = require(require.resolve('solc', { paths: [root] }));

function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function findImport(importPath) {
  const candidates = [path.join(root, importPath), path.join(root, 'node_modules', importPath)];
  for (const c of candidates) {
    if (fs.existsSync(c)) return { contents: fs.readFileSync(c, 'utf8') };
  }
  return { error: 'File not found: ' + importPath };
}

const args = process.argv.slice(2);
if (args.includes('--version')) {
  writeAll(1, 'solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  writeAll(2, 'usage: solc --standard-json < input.json | solc --version\n');
  process.exit(2);
}
const input = fs.readFileSync(0, 'utf8');
const output = solc.compile(input, { import: findImport });
writeAll(1, output);
