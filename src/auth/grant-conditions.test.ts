import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTEXT_CHECKED_PER_ITEM, addressInCidr, checkConditions, checkSelector, compileConditions, containsPairs } from './grant-conditions.js';
import type { GrantContext } from './authorize.js';

const NOW = Date.UTC(2026, 0, 1);

describe('CIDR matching', () => {
  const cases: Array<[string, string, boolean]> = [
    ['10.1.2.3', '10.0.0.0/8', true],
    ['11.1.2.3', '10.0.0.0/8', false],
    ['192.168.1.77', '192.168.1.64/26', true],
    ['192.168.1.128', '192.168.1.64/26', false],
    ['203.0.113.9', '203.0.113.9', true],
    ['203.0.113.10', '203.0.113.9', false],
    ['8.8.8.8', '0.0.0.0/0', true],
    // IPv4-mapped IPv6 addresses are their IPv4 address.
    ['::ffff:10.9.8.7', '10.0.0.0/8', true],
    ['::ffff:a09:807', '10.0.0.0/8', true],
    ['::FFFF:10.9.8.7', '10.0.0.0/8', true],
    ['::ffff:11.9.8.7', '10.0.0.0/8', false],
    ['10.9.8.7', '::ffff:10.0.0.0/104', true],
    ['10.9.8.7', '::ffff:0:0/96', true],
    // IPv6.
    ['2001:db8::1', '2001:db8::/32', true],
    ['2001:db9::1', '2001:db8::/32', false],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1/128', true],
    ['fe80::1%eth0', 'fe80::/10', true],
    ['::1', '::1', true],
    ['::1', '127.0.0.1/8', false],
    ['127.0.0.1', '::1/128', false],
    ['1:2:3:4:5:6:7:8', '1:2:3:4::/64', true],
    ['1:2:3:5:5:6:7:8', '1:2:3:4::/64', false],
    // An IPv4 client falls in IPv6 ranges that cover its mapped form only.
    ['8.8.8.8', '::/0', true],
    ['8.8.8.8', '2001:db8::/32', false],
    // Malformed input never matches.
    ['10.0.0.256', '0.0.0.0/0', false],
    ['not-an-ip', '0.0.0.0/0', false],
    ['1:2:3:4:5:6:7:8:9', '::/0', false],
    ['1::2::3', '::/0', false],
    ['10.0.0.1', '10.0.0.0/33', false],
  ];
  for (const [ip, cidr, expected] of cases) {
    test(`${ip} in ${cidr}: ${expected}`, () => assert.equal(addressInCidr(ip, cidr), expected));
  }
});

describe('checkConditions', () => {
  test('normalizes and keeps only what is given', () => {
    assert.deepEqual(checkConditions(undefined, NOW), {});
    assert.deepEqual(checkConditions({ sourceCidrs: ['10.0.0.0/8', '10.0.0.0/8', '2001:db8::/32'], notAfter: NOW + 1 }, NOW), {
      sourceCidrs: ['10.0.0.0/8', '2001:db8::/32'],
      notAfter: NOW + 1,
    });
  });

  const refused: Array<[string, Parameters<typeof checkConditions>[0], string]> = [
    ['both context kinds', { contextEquals: { a: 'b' }, contextIncludes: { a: 'b' } }, 'conditions take either contextEquals or contextIncludes, not both'],
    ['empty context', { contextIncludes: {} }, 'conditions.contextIncludes must hold at least one pair'],
    ['17 pairs', { contextEquals: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 'conditions.contextEquals holds more than 16 pairs'],
    ['empty context key', { contextEquals: { '': 'v' } }, 'conditions.contextEquals: context keys must not be empty'],
    ['lone surrogate', { contextEquals: { k: '\uD800' } }, 'conditions.contextEquals: context keys and values must be well-formed Unicode'],
    ['oversized context', { contextEquals: { k: 'x'.repeat(9000) } }, 'conditions.contextEquals: context is larger than 8192 bytes'],
    ['bad CIDR', { sourceCidrs: ['10.0.0.0/8', 'ten'] }, 'conditions.sourceCidrs: "ten" is not an IPv4 or IPv6 address or CIDR range'],
    ['host bits', { sourceCidrs: ['10.0.0.1/8'] }, 'conditions.sourceCidrs: 10.0.0.1/8 has address bits set beyond its prefix length'],
    ['zone in CIDR', { sourceCidrs: ['fe80::%eth0/10'] }, 'conditions.sourceCidrs: "fe80::%eth0/10" is not an IPv4 or IPv6 address or CIDR range'],
    ['no CIDR', { sourceCidrs: [] }, 'conditions.sourceCidrs must list 1 to 16 ranges'],
    ['expired', { notAfter: NOW }, 'conditions.notAfter is not in the future'],
    ['window reversed', { notBefore: NOW + 10, notAfter: NOW + 5 }, 'conditions.notBefore must be earlier than conditions.notAfter'],
    ['empty window', { notBefore: NOW + 5, notAfter: NOW + 5 }, 'conditions.notBefore must be earlier than conditions.notAfter'],
    ['fractional time', { notBefore: 1.5 }, 'conditions.notBefore must be a time (epoch ms)'],
  ];
  for (const [name, c, message] of refused) {
    test(`refuses ${name}`, () => assert.throws(() => checkConditions(c, NOW), { code: 'ValidationError', message }));
  }
});

test('checkSelector: 1-16 pairs with the limits of key tags', () => {
  assert.deepEqual(checkSelector({ team: 'payments' }), { team: 'payments' });
  assert.throws(() => checkSelector({}), { message: 'tagSelector must hold at least one pair' });
  assert.throws(() => checkSelector({ ['k'.repeat(129)]: 'v' }), { message: 'tagSelector keys must be 1–128 characters and values at most 256' });
  assert.throws(() => checkSelector({ k: 1 }), { message: 'tagSelector values must be strings' });
});

test('containsPairs uses own properties only', () => {
  assert.equal(containsPairs({ a: '1', b: '2' }, { a: '1' }), true);
  assert.equal(containsPairs({ a: '1' }, { a: '2' }), false);
  assert.equal(containsPairs({}, { constructor: Object.prototype.constructor as unknown as string }), false);
  assert.equal(containsPairs({}, JSON.parse('{"__proto__":"x"}') as Record<string, string>), false);
});

describe('compileConditions', () => {
  const ctx = (over: Partial<GrantContext> = {}): GrantContext => ({ now: NOW, ...over });

  test('no conditions: always holds, even without request facts', () => {
    const holds = compileConditions({});
    assert.equal(holds(undefined), true);
    assert.equal(holds(ctx()), true);
  });

  test('conditional grants fail closed without request facts', () => {
    assert.equal(compileConditions({ notAfter: NOW + 1 })(undefined), false);
  });

  test('contextEquals: exact equality; no context never matches', () => {
    const holds = compileConditions({ contextEquals: { tenant: 'acme', app: 'billing' } });
    assert.equal(holds(ctx({ encryptionContext: { app: 'billing', tenant: 'acme' } })), true);
    assert.equal(holds(ctx({ encryptionContext: { app: 'billing', tenant: 'acme', extra: 'x' } })), false);
    assert.equal(holds(ctx({ encryptionContext: { tenant: 'acme' } })), false);
    assert.equal(holds(ctx({ encryptionContext: { tenant: 'acme', app: 'other' } })), false);
    assert.equal(holds(ctx()), false);
  });

  test('contextIncludes: subset', () => {
    const holds = compileConditions({ contextIncludes: { tenant: 'acme' } });
    assert.equal(holds(ctx({ encryptionContext: { tenant: 'acme', extra: 'x' } })), true);
    assert.equal(holds(ctx({ encryptionContext: { tenant: 'other' } })), false);
    assert.equal(holds(ctx({ encryptionContext: {} })), false);
  });

  test('a per-item entry check leaves context conditions to the items, but not the others', () => {
    assert.equal(compileConditions({ contextEquals: { a: 'b' } })(ctx({ encryptionContext: CONTEXT_CHECKED_PER_ITEM })), true);
    assert.equal(compileConditions({ contextEquals: { a: 'b' }, notAfter: NOW })(ctx({ encryptionContext: CONTEXT_CHECKED_PER_ITEM })), false);
    // An ordinary empty object is an empty context, not the marker.
    assert.equal(compileConditions({ contextIncludes: { a: 'b' } })(ctx({ encryptionContext: {} })), false);
  });

  test('source address: any listed range; unknown address fails', () => {
    const holds = compileConditions({ sourceCidrs: ['10.0.0.0/8', '2001:db8::/32'] });
    assert.equal(holds(ctx({ sourceIp: '10.2.3.4' })), true);
    assert.equal(holds(ctx({ sourceIp: '::ffff:10.2.3.4' })), true);
    assert.equal(holds(ctx({ sourceIp: '2001:db8::5' })), true);
    assert.equal(holds(ctx({ sourceIp: '192.0.2.1' })), false);
    assert.equal(holds(ctx()), false);
  });

  test('validity window: notBefore inclusive, notAfter exclusive', () => {
    const holds = compileConditions({ notBefore: NOW, notAfter: NOW + 1000 });
    assert.equal(holds(ctx({ now: NOW - 1 })), false);
    assert.equal(holds(ctx({ now: NOW })), true);
    assert.equal(holds(ctx({ now: NOW + 999 })), true);
    assert.equal(holds(ctx({ now: NOW + 1000 })), false);
  });

  test('all conditions must hold', () => {
    const holds = compileConditions({ contextIncludes: { t: 'a' }, sourceCidrs: ['10.0.0.0/8'], notAfter: NOW + 1 });
    assert.equal(holds(ctx({ sourceIp: '10.0.0.1', encryptionContext: { t: 'a' } })), true);
    assert.equal(holds(ctx({ sourceIp: '11.0.0.1', encryptionContext: { t: 'a' } })), false);
    assert.equal(holds(ctx({ sourceIp: '10.0.0.1', encryptionContext: { t: 'b' } })), false);
    assert.equal(holds(ctx({ now: NOW + 1, sourceIp: '10.0.0.1', encryptionContext: { t: 'a' } })), false);
  });
});
