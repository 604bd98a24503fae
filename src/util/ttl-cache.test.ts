import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from './clock.js';
import { TtlCache } from './ttl-cache.js';

test('entries expire after the TTL, not before', () => {
  const clock = new ManualClock();
  const c = new TtlCache<string, number>(clock, 1000);
  c.set('a', 1);
  clock.advance(999);
  assert.equal(c.get('a'), 1);
  clock.advance(1);
  assert.equal(c.get('a'), undefined);
  assert.equal(c.size, 0, 'an expired entry is removed when read');
});

test('delete and clear remove entries; a full cache empties itself instead of growing', () => {
  const clock = new ManualClock();
  const c = new TtlCache<number, string>(clock, 1000, 3);
  c.set(1, 'a');
  c.set(2, 'b');
  c.delete(1);
  assert.equal(c.get(1), undefined);
  assert.equal(c.get(2), 'b');
  c.set(3, 'c');
  c.set(4, 'd');
  assert.equal(c.size, 3);
  c.set(5, 'e');
  assert.equal(c.size, 1, 'reaching maxEntries empties the cache first');
  assert.equal(c.get(5), 'e');
  c.clear();
  assert.equal(c.get(5), undefined);
});
