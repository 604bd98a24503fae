/**
 * Audit events: building (HMAC of sensitive values, sealed case, details limits), the leaf
 * encoding with `seq`, strict decoding, and the worked example of docs/audit-format.md, checked
 * byte for byte against an independent HMAC and hash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CanonicalError } from '../../src/audit/canonical.js';
import { auditHmac, buildEvent, decodeLeaf, encodeLeaf, hasEventShape, type AuditEventInput } from '../../src/audit/event.js';
import { checkpointMessage } from '../../src/audit/checkpoint.js';
import { leafHash } from '../../src/audit/merkle.js';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const T = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const refHmac = (purpose: string, value: string) =>
  createHmac('sha256', KEY).update(Buffer.concat([Buffer.from(`keywarden-audit/v1/${purpose}`), Buffer.from([0]), Buffer.from(value, 'utf8')])).digest('hex');

const input: AuditEventInput = {
  requestId: 'r-1',
  principal: { id: 'p-1', name: 'alice', kind: 'user' },
  authMethod: 'session',
  operation: 'key:decrypt',
  outcome: 'deny',
  errorCode: 'PermissionDenied',
  encryptionContext: { tenant: 'acme', 'ünï': 'cödé' },
  tokenId: 'sess_1',
};

test('buildEvent fills every member, HMACs context values and the token id, keeps nothing raw', () => {
  const e = buildEvent(input, T, auditHmac(KEY));
  assert.deepEqual(e, {
    v: 1,
    time: '2026-01-02T03:04:05.678Z',
    requestId: 'r-1',
    principal: { id: 'p-1', name: 'alice', kind: 'user' },
    authMethod: 'session',
    sourceIp: null,
    operation: 'key:decrypt',
    keyId: null,
    keyVersion: null,
    outcome: 'deny',
    errorCode: 'PermissionDenied',
    policy: null,
    approvalIds: [],
    context: { tenant: refHmac('context', 'acme'), 'ünï': refHmac('context', 'cödé') },
    tokenId: refHmac('token', 'sess_1'),
  });
  const text = encodeLeaf(e, 0).toString('utf8');
  for (const secret of ['acme', 'cödé', 'sess_1']) assert.ok(!text.includes(secret), `${secret} is not in the leaf`);
  // Domain separation: the same string as a context value and as a token id gives different digests.
  assert.notEqual(auditHmac(KEY)('context', 'x'), auditHmac(KEY)('token', 'x'));
});

test('while sealed (no HMAC key) sensitive values are recorded as null, never in the clear', () => {
  const e = buildEvent(input, T, undefined);
  assert.deepEqual(e.context, { tenant: null, 'ünï': null });
  assert.equal(e.tokenId, null);
});

test('details: small non-secret values only', () => {
  const ok = buildEvent({ ...input, details: { bytes: 32, spec: 'AES_256', exportable: false, note: null } }, T, undefined);
  assert.deepEqual(ok.details, { bytes: 32, spec: 'AES_256', exportable: false, note: null });
  assert.throws(() => buildEvent({ ...input, details: { n: 1.5 } }, T, undefined), CanonicalError);
  assert.throws(() => buildEvent({ ...input, details: { s: 'x'.repeat(257) } }, T, undefined), CanonicalError);
  assert.throws(() => buildEvent({ ...input, details: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])) }, T, undefined), CanonicalError);
  // The type has no Buffer member; at run time a Buffer smuggled in is refused, like any value that would not encode.
  assert.throws(() => buildEvent({ ...input, details: { k: Buffer.alloc(32) as unknown as string } }, T, undefined), CanonicalError);
  assert.throws(() => buildEvent({ ...input, requestId: 'lone \ud800' }, T, undefined), CanonicalError);
  assert.throws(() => buildEvent({ ...input, keyVersion: 2 ** 53 }, T, undefined), CanonicalError);
  assert.throws(() => buildEvent({ ...input, operation: Buffer.from('x') as unknown as string }, T, undefined), CanonicalError);
  assert.throws(() => buildEvent({ ...input, outcome: 'maybe' as 'allow' }, T, undefined), CanonicalError);
});

test('leaf data bind the index; decodeLeaf accepts only canonical, well-formed v1 events', () => {
  const e = buildEvent(input, T, auditHmac(KEY));
  const data = encodeLeaf(e, 7);
  assert.deepEqual(decodeLeaf(data), { ...e, seq: 7 });
  assert.ok(!encodeLeaf(e, 8).equals(data));
  const reject = (o: unknown) => assert.throws(() => decodeLeaf(Buffer.from(JSON.stringify(o))), CanonicalError);
  const leaf = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
  const sorted = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
  reject(sorted({ ...leaf, extra: 1 }));
  reject(sorted({ ...leaf, v: 2 }));
  reject(sorted({ ...leaf, outcome: 'maybe' }));
  reject(sorted({ ...leaf, keyVersion: -1 }));
  reject(sorted({ ...leaf, time: 'yesterday' }));
  const { seq: _seq, ...noSeq } = leaf;
  reject(noSeq);
  assert.doesNotThrow(() => decodeLeaf(Buffer.from(JSON.stringify(sorted(leaf)))));
});

// ---- the worked example of docs/audit-format.md ------------------------------------------------
const doc = readFileSync(new URL('../../docs/audit-format.md', import.meta.url), 'utf8');
function block(name: string): string {
  const m = new RegExp(`<!-- example:${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  assert.ok(m, `docs/audit-format.md has the ${name} block`);
  return m[1]!;
}

test('docs/audit-format.md: the worked example encodes to the documented bytes and leaf hash', () => {
  const example = JSON.parse(block('input')) as AuditEventInput;
  const data = encodeLeaf(buildEvent(example, T, auditHmac(KEY)), 41);
  assert.equal(data.toString('utf8'), block('canonical'));
  assert.equal(data.length, 663);
  assert.ok(doc.includes('663 bytes'));
  // The documented hash, from an independent SHA-256 of 0x00 || the documented text.
  const independent = createHash('sha256').update(Buffer.from([0])).update(block('canonical'), 'utf8').digest('hex');
  assert.equal(block('leaf-hash'), independent);
  assert.equal(leafHash(data).toString('hex'), independent);
  // The HMACs in the text are HMAC-SHA256 as documented.
  assert.ok(block('canonical').includes(refHmac('context', 'acme')) && block('canonical').includes(refHmac('token', 'jti_5b1e0c9a')));
});

test('docs/audit-format.md: the checkpoint message example', () => {
  const msg = checkpointMessage({ size: 3, rootHash: KEY, time: Date.UTC(2026, 0, 1) });
  assert.equal(msg.toString('utf8'), `${block('checkpoint-message')}\n`);
});

test('the hot-path leaf encoder agrees byte for byte with the generic canonical encoder', async () => {
  const { canonicalBytes } = await import('../../src/audit/canonical.js');
  const hmac = auditHmac(KEY);
  const strings = ['', 'a', 'ünï', '"quoted" \\ back', 'tab\tnew\nline\u0001', '\u2028sep', '😀', 'Zebra', 'apple', 'B'];
  let n = 0;
  for (const s of strings) {
    for (const withDetails of [false, true]) {
      const inputs: AuditEventInput[] = [
        { ...input, requestId: s },
        {
          requestId: `r${s}`,
          principal: n % 2 ? null : { id: s, name: s + s, kind: 'service-account' },
          authMethod: n % 3 ? 'access-token' : 'none',
          sourceIp: n % 2 ? null : s,
          operation: 'key:encrypt',
          keyId: n % 2 ? s : null,
          keyVersion: n % 2 ? n : null,
          outcome: n % 3 ? 'allow' : 'error',
          errorCode: n % 3 ? null : s,
          policy: n % 2 ? { decision: s, rule: n % 4 ? null : s } : null,
          approvalIds: n % 2 ? [s, 'x', s] : [],
          encryptionContext: { [s || 'k']: s, Z: 'z', a: s },
          tokenId: n % 2 ? s : null,
          ...(withDetails ? { details: { [s || 'd']: s, count: n, ok: n % 2 === 0, none: null, B: -n } } : {}),
        },
      ];
      for (const i of inputs) {
        const e = buildEvent(i, T + n, n % 5 ? hmac : undefined);
        assert.ok(hasEventShape(e), 'a built event takes the straight-line path');
        for (const index of [0, n, 2 ** 40 + n]) {
          assert.deepEqual(encodeLeaf(e, index), canonicalBytes({ ...e, seq: index } as never), `event ${n} at ${index}`);
        }
        n++;
      }
    }
  }
});
