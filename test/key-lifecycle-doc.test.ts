import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { edges } from '../src/keys/key.lifecycle.js';

test('docs/key-lifecycle.md lists exactly the state transitions the code allows', () => {
  const doc = readFileSync(new URL('../docs/key-lifecycle.md', import.meta.url), 'utf8');
  const inDoc = [...doc.matchAll(/^ {2}(\w+) --> (\w+) : ([a-z-]+)$/gm)].map((m) => `${m[1]} -${m[3]}-> ${m[2]}`).sort();
  const inCode = edges()
    .filter((e) => e.from !== e.to)
    .map((e) => `${e.from} -${e.event}-> ${e.to}`)
    .sort();
  assert.ok(inCode.length > 10);
  assert.deepEqual(inDoc, inCode);
});
