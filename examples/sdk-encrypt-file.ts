/**
 * Encrypt a file with envelope encryption, streamed in constant memory, then decrypt it again.
 *
 *   KEYWARDEN_ADDR=http://127.0.0.1:8200 KEYWARDEN_TOKEN=... \
 *     npx tsx examples/sdk-encrypt-file.ts alias/files ./report.pdf
 *
 * Writes ./report.pdf.kwe (the message) and ./report.pdf.out (the decrypted copy).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Keywarden, type StreamHeader } from 'keywarden/sdk';

const [key, file] = process.argv.slice(2);
if (!key || !file) throw new Error('usage: sdk-encrypt-file.ts KEY FILE');

const kw = new Keywarden({ address: process.env.KEYWARDEN_ADDR ?? 'http://127.0.0.1:8200', token: process.env.KEYWARDEN_TOKEN ?? '' });
const context = { purpose: 'file-backup', name: file.split('/').pop() ?? file };

// Encrypt: one data key from Keywarden; the file itself never leaves this machine.
await pipeline(createReadStream(file), kw.envelope.encryptStream({ key, context }), createWriteStream(`${file}.kwe`));

// Decrypt: the message names its wrapping key(s) and carries the context, authenticated.
const decrypt = kw.envelope.decryptStream({ context: { purpose: 'file-backup' } });
decrypt.on('header', (h: StreamHeader) => console.log(`wrapped by ${h.keyId}, context ${JSON.stringify(h.context)}`));
await pipeline(createReadStream(`${file}.kwe`), decrypt, createWriteStream(`${file}.out`));

const size = async (f: string) => (await stat(f)).size;
console.log(`encrypted ${await size(file)} bytes into ${await size(`${file}.kwe`)} bytes, decrypted ${await size(`${file}.out`)} bytes`);
