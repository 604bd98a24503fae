/**
 * Protect a database column: each e-mail address is encrypted before it is stored and decrypted
 * after it is read. The data-key cache makes this one server call for many rows.
 *
 *   KEYWARDEN_ADDR=... KEYWARDEN_TOKEN=... npx tsx examples/sdk-database-column.ts alias/pii
 *
 * The context names the table and column, so a value copied into another column does not decrypt
 * there. (Adding the row id to the context also stops copying between rows, at the price of one
 * data key per row: the cache is scoped by context.)
 */
import Database from 'better-sqlite3';
import { Keywarden } from 'keywarden/sdk';

const key = process.argv[2];
if (!key) throw new Error('usage: sdk-database-column.ts KEY');
const kw = new Keywarden({
  address: process.env.KEYWARDEN_ADDR ?? 'http://127.0.0.1:8200',
  token: process.env.KEYWARDEN_TOKEN ?? '',
  cache: { maxAgeSeconds: 300, maxMessages: 10_000 },
});
const column = { table: 'users', column: 'email' };

const db = new Database(':memory:');
db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email BLOB NOT NULL)');
const insert = db.prepare('INSERT INTO users (id, name, email) VALUES (?, ?, ?)');
for (let id = 1; id <= 100; id++) {
  insert.run(id, `user${id}`, await kw.envelope.encrypt(Buffer.from(`user${id}@example.com`), { key, context: column }));
}

const row = db.prepare('SELECT name, email FROM users WHERE id = ?').get(42) as { name: string; email: Buffer };
const { plaintext } = await kw.envelope.decrypt(row.email, { context: column });
console.log(`${row.name}: ${plaintext.toString()}`);
const stored = db.prepare('SELECT email FROM users WHERE id = 7').get() as { email: Buffer };
console.log(`stored bytes contain the address: ${stored.email.includes(Buffer.from('user7@'))}`);
const { requests, cache } = kw.stats();
console.log(`100 rows written, 1 read: ${requests} server calls, cache hits ${cache?.hits}, misses ${cache?.misses}`);
db.close();
