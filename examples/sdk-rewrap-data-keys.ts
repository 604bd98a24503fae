/**
 * Rotate a key and re-wrap the data keys of stored messages under its new version, without
 * decrypting or rewriting the data: only each message's header changes (POST /v1/keys/{key}/re-wrap
 * per message; the plaintext data key is used here only to seal the new header).
 *
 *   KEYWARDEN_ADDR=... KEYWARDEN_TOKEN=... npx tsx examples/sdk-rewrap-data-keys.ts alias/archive
 *
 * Rotating needs key:rotate (a key administrator); re-wrapping needs decrypt and re-wrap on the key.
 */
import { Keywarden, inspectMessage } from 'keywarden/sdk';

const key = process.argv[2];
if (!key) throw new Error('usage: sdk-rewrap-data-keys.ts KEY');
const kw = new Keywarden({ address: process.env.KEYWARDEN_ADDR ?? 'http://127.0.0.1:8200', token: process.env.KEYWARDEN_TOKEN ?? '', cache: false });
const context = { archive: '2026' };

/** Which version of its key wrapped a message's data key (the server says, on unwrap). */
async function wrappedVersion(message: Buffer): Promise<number> {
  const w = inspectMessage(message).wrappedKeys[0]!;
  return (await kw.decrypt(w.ciphertext, context)).keyVersion;
}

// Stored messages (here: in memory).
const store = new Map<string, Buffer>();
for (const id of ['a', 'b', 'c']) store.set(id, await kw.envelope.encrypt(Buffer.from(`record ${id}`), { key, context }));
console.log(`before: data keys wrapped by version ${await wrappedVersion(store.get('a')!)}`);

const rotated = await kw.request<{ key: { primaryVersion: number } }>('POST', `/v1/keys/${encodeURIComponent(key)}/rotate`);
console.log(`rotated: primary version ${rotated.key.primaryVersion}`);

for (const [id, message] of store) {
  const rewrapped = await kw.envelope.rewrap(message);
  // Only the header changed: the encrypted frames at the end are the same bytes.
  if (!rewrapped.subarray(-32).equals(message.subarray(-32))) throw new Error('the body changed');
  store.set(id, rewrapped);
}
console.log(`after: data keys wrapped by version ${await wrappedVersion(store.get('a')!)}`);
for (const [id, message] of store) console.log(`${id}: ${(await kw.envelope.decrypt(message)).plaintext.toString()}`);
