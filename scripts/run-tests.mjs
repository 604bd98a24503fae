#!/usr/bin/env node
// Finds every *.test.ts under src/ and test/ (Node 20's runner does not expand globs itself) and
// runs them with Node's test runner through tsx. Extra arguments are passed to the runner, and a
// path argument narrows the run to files under it: `node scripts/run-tests.mjs test/http`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const paths = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const roots = paths.length > 0 ? paths : ['src', 'test'];
const files = roots.flatMap((r) => (statSync(join(root, r)).isDirectory() ? walk(join(root, r), []) : [r])).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...flags, ...files], { cwd: root, stdio: 'inherit' });
process.exit(res.status ?? 1);
