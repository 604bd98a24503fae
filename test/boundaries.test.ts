/**
 * ARCHITECTURE rule 9: node:crypto only in src/crypto/primitives, pkcs11js only in src/hsm/pkcs11,
 * database drivers only in src/storage. Also: transports never import a store or a driver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

function importsOf(file: string): string[] {
  const src = readFileSync(join(root, file), 'utf8');
  return [...src.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1] as string);
}

const RULES: Array<{ modules: RegExp; allowedUnder: string[]; what: string }> = [
  { modules: /^(node:)?crypto$/, allowedUnder: ['src/crypto/primitives/'], what: 'node:crypto' },
  { modules: /^(pkcs11js|graphene-pk11)$/, allowedUnder: ['src/hsm/pkcs11/'], what: 'a PKCS#11 binding' },
  { modules: /^(better-sqlite3|pg|pg-.*)$/, allowedUnder: ['src/storage/'], what: 'a database driver' },
];

test('module boundaries hold for every source file', () => {
  const files = sources(join(root, 'src'));
  assert.ok(files.length > 20, 'scanned the source tree');
  const violations: string[] = [];
  for (const f of files) {
    for (const imp of importsOf(f)) {
      for (const r of RULES) {
        if (r.modules.test(imp) && !r.allowedUnder.some((d) => f.startsWith(d))) violations.push(`${f} imports ${r.what} (${imp})`);
      }
      if (f.startsWith('src/transport/') && /\/storage\//.test(imp)) violations.push(`${f} (a transport) imports storage (${imp})`);
    }
  }
  assert.deepEqual(violations, []);
});

/**
 * The SDK is client code: at run time it loads only itself and its crypto primitives module
 * (src/crypto/primitives/envelope-crypto.ts, which imports nothing but node:crypto); everything
 * else it takes from the server is types.
 */
const SDK_CRYPTO = '../crypto/primitives/envelope-crypto.js';

test('the SDK loads no server code: imports leaving src/sdk/ are type-only, but its crypto primitives', () => {
  const files = sources(join(root, 'src', 'sdk'));
  assert.ok(files.length >= 5, 'scanned the SDK');
  const violations: string[] = [];
  for (const f of files) {
    const src = readFileSync(join(root, f), 'utf8');
    for (const m of src.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+['"](\.\.\/[^'"]+)['"]/gm)) {
      if (m[2] === undefined && m[3] !== SDK_CRYPTO) violations.push(`${f} imports ${m[3]} at run time`);
    }
  }
  assert.deepEqual(violations, []);
  const crypto = readFileSync(join(root, 'src/crypto/primitives/envelope-crypto.ts'), 'utf8');
  assert.deepEqual([...crypto.matchAll(/^import\s[^;]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]), ['node:crypto'], 'the SDK crypto module stands alone');
  assert.ok(readFileSync(join(root, 'src/sdk/types.ts'), 'utf8').includes("import type * as S from '../transport/http/schemas.js'"), 'the scanner saw the type-only schema imports');
});

test('the boundary scanner sees imports (self-check)', () => {
  assert.ok(importsOf('src/crypto/primitives/index.ts').includes('node:crypto'));
  assert.ok(importsOf('src/storage/sqlite/sqlite-store.ts').includes('better-sqlite3'));
  assert.ok(importsOf('src/storage/postgres/db.ts').includes('pg'));
  assert.ok(importsOf('src/hsm/pkcs11/module.ts').includes('pkcs11js'));
});
