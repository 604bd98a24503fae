/**
 * Backup files: one logical snapshot of the store (keys stay wrapped by the root key), encrypted
 * under a fresh backup key split with Shamir among custodians, with a signed manifest.
 *
 * File layout (docs/backup.md):
 *   line 1  `KEYWARDEN-BACKUP 1`
 *   line 2  the manifest (JSON): format, creation time, schema version, rows and SHA-256 per table,
 *           the encryption parameters and the SHA-256 of the ciphertext, the Ed25519 public key
 *   line 3  base64 Ed25519 signature over SIGNING_DOMAIN || manifest line || ciphertext SHA-256 (hex)
 *   rest    AES-256-GCM(backup key, snapshot JSON lines), AAD = the manifest's content part
 *
 * Without shares, verify proves the file is what its signer wrote (the custodians compare the
 * printed key fingerprint). With shares, the GCM tag also binds the table list, counts and hashes
 * to the backup key, so a re-signed, edited manifest is caught too.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { split, combine } from 'shamir-secret-sharing';
import {
  AES_GCM_NONCE_BYTES, aesGcmOpen, aesGcmSeal, constantTimeEqual, hmacSha256, randomBytes, sha256,
} from '../crypto/primitives/index.js';
import { checkSignature, createSignature, generateKeyPair } from '../crypto/primitives/asymmetric.js';
import { zeroize } from '../crypto/secret-bytes.js';
import type { Snapshot, SnapshotChunk, SnapshotValue } from '../storage/snapshot.js';

export const BACKUP_FORMAT = 'keywarden-backup/1';
const MAGIC = 'KEYWARDEN-BACKUP 1';
const SIGNING_DOMAIN = 'keywarden backup signature v1\n';
const KEY_CHECK_LABEL = 'keywarden backup key check v1';

const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const B64 = Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 4096 });
const TableEntry = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  rows: Type.Integer({ minimum: 0 }),
  sha256: Hex64,
}, { additionalProperties: false });

export const ManifestSchema = Type.Object({
  format: Type.Literal(BACKUP_FORMAT),
  createdAt: Type.String({ minLength: 1, maxLength: 64 }),
  schemaVersion: Type.Integer({ minimum: 1 }),
  source: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')]),
  tables: Type.Array(TableEntry, { maxItems: 1000 }),
  encryption: Type.Object({
    algorithm: Type.Literal('AES-256-GCM'),
    nonce: B64,
    ciphertextBytes: Type.Integer({ minimum: 16 }),
    ciphertextSha256: Hex64,
  }, { additionalProperties: false }),
  backupKey: Type.Object({
    shares: Type.Integer({ minimum: 1, maximum: 255 }),
    threshold: Type.Integer({ minimum: 1, maximum: 255 }),
    /** HMAC-SHA256(backup key, label): tells "wrong shares" apart from "corrupted ciphertext". */
    check: B64,
  }, { additionalProperties: false }),
  /**
   * The audit ledger in the snapshot: its event count and newest signed checkpoint, which a DR
   * drill compares with the restored ledger. Absent in files written before it existed.
   */
  ledger: Type.Optional(Type.Object({
    events: Type.Integer({ minimum: 0 }),
    checkpoint: Type.Union([
      Type.Object({ size: Type.Integer({ minimum: 0 }), rootHash: B64, time: Type.Integer({ minimum: 0 }), keyId: Type.String({ maxLength: 128 }) }, { additionalProperties: false }),
      Type.Null(),
    ]),
  }, { additionalProperties: false })),
  signing: Type.Object({
    algorithm: Type.Literal('Ed25519'),
    publicKey: B64,
    fingerprint: Type.String({ pattern: '^SHA256:[0-9a-f]{64}$' }),
  }, { additionalProperties: false }),
}, { additionalProperties: false });
export type Manifest = Static<typeof ManifestSchema>;

/** A backup that must not be trusted; `message` names what is wrong. */
export class BackupError extends Error {}

const fingerprintOf = (spki: Buffer) => `SHA256:${sha256(spki).toString('hex')}`;

/** The manifest part the GCM tag binds (fixed key order, whatever the file's JSON order is). */
const contentAad = (m: Pick<Manifest, 'format' | 'createdAt' | 'schemaVersion' | 'source' | 'tables' | 'ledger'>) =>
  Buffer.from(JSON.stringify({
    format: m.format, createdAt: m.createdAt, schemaVersion: m.schemaVersion, source: m.source, tables: m.tables,
    ...(m.ledger && { ledger: { events: m.ledger.events, checkpoint: m.ledger.checkpoint && { size: m.ledger.checkpoint.size, rootHash: m.ledger.checkpoint.rootHash, time: m.ledger.checkpoint.time, keyId: m.ledger.checkpoint.keyId } } }),
  }));

const signedMessage = (manifestLine: Buffer, ciphertextSha256: string) =>
  Buffer.concat([Buffer.from(SIGNING_DOMAIN), manifestLine, Buffer.from(`\n${ciphertextSha256}`)]);

// ---- snapshot <-> JSON lines --------------------------------------------------------------------

/** Serializes a snapshot: per table a header line then one JSON array per row; hashes per table. */
async function encodeSnapshot(chunks: AsyncIterable<SnapshotChunk>): Promise<{ plaintext: Buffer; tables: Manifest['tables']; ledger?: NonNullable<Manifest['ledger']> }> {
  const parts: string[] = [];
  const tables: Manifest['tables'] = [];
  let ledger: NonNullable<Manifest['ledger']> | undefined;
  let newestN = -1;
  let current: { name: string; lines: string[]; rows: number } | undefined;
  const finish = () => {
    if (!current) return;
    const text = current.lines.join('');
    parts.push(text);
    tables.push({ name: current.name, rows: current.rows, sha256: sha256(text).toString('hex') });
  };
  for await (const chunk of chunks) {
    if (current?.name !== chunk.table) {
      if (tables.some((t) => t.name === chunk.table)) throw new Error(`the snapshot returned table ${chunk.table} twice`);
      finish();
      current = { name: chunk.table, lines: [`${JSON.stringify({ table: chunk.table, columns: chunk.columns })}\n`], rows: 0 };
    }
    for (const row of chunk.rows) current.lines.push(`${JSON.stringify(row)}\n`);
    current.rows += chunk.rows.length;
    if (chunk.table === 'audit_events') (ledger ??= { events: 0, checkpoint: null }).events += chunk.rows.length;
    if (chunk.table === 'audit_checkpoints') {
      const col = (name: string) => chunk.columns.indexOf(name);
      for (const r of chunk.rows) {
        const n = Number(r[col('n')]);
        if (n <= newestN) continue;
        newestN = n;
        (ledger ??= { events: 0, checkpoint: null }).checkpoint = { size: Number(r[col('size')]), rootHash: String(r[col('root_hash')]), time: Number(r[col('time')]), keyId: String(r[col('key_id')]) };
      }
    }
  }
  finish();
  return { plaintext: Buffer.from(parts.join('')), tables, ...(ledger && { ledger }) };
}

interface DecodedTable {
  name: string;
  columns: string[];
  rows: SnapshotValue[][];
  sha256: string;
}

function decodeSnapshot(plaintext: Buffer): DecodedTable[] {
  const out: DecodedTable[] = [];
  const text = plaintext.toString('utf8');
  let start = 0;
  let current: (DecodedTable & { from: number }) | undefined;
  const finish = (end: number) => {
    if (current) current.sha256 = sha256(text.slice(current.from, end)).toString('hex');
  };
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) throw new BackupError('the snapshot is truncated (no final newline)');
    const line = JSON.parse(text.slice(start, nl)) as unknown;
    if (Array.isArray(line)) {
      if (!current) throw new BackupError('the snapshot has a row before any table');
      if (line.length !== current.columns.length || !line.every((v) => v === null || typeof v === 'string' || typeof v === 'number')) {
        throw new BackupError(`the snapshot has a malformed row in table ${current.name}`);
      }
      current.rows.push(line as SnapshotValue[]);
    } else {
      const h = line as { table?: unknown; columns?: unknown };
      if (typeof h.table !== 'string' || !Array.isArray(h.columns) || !h.columns.every((c) => typeof c === 'string')) {
        throw new BackupError('the snapshot has a malformed table header');
      }
      finish(start);
      current = { name: h.table, columns: h.columns as string[], rows: [], sha256: '', from: start };
      out.push(current);
    }
    start = nl + 1;
  }
  finish(text.length);
  return out.map(({ name, columns, rows, sha256 }) => ({ name, columns, rows, sha256 }));
}

// ---- shares -------------------------------------------------------------------------------------

async function splitKey(key: Buffer, shares: number, threshold: number): Promise<string[]> {
  if (shares === 1) return [key.toString('base64')];
  const plain = new Uint8Array(key);
  try {
    return (await split(plain, shares, threshold)).map((p) => {
      const s = Buffer.from(p).toString('base64');
      p.fill(0);
      return s;
    });
  } finally {
    plain.fill(0);
  }
}

async function combineShares(shares: readonly string[], m: Manifest): Promise<Buffer> {
  const unique = [...new Set(shares.map((s) => s.trim()).filter((s) => s !== ''))];
  if (unique.length < m.backupKey.threshold) {
    throw new BackupError(`${m.backupKey.threshold} distinct backup key shares are needed, ${unique.length} given`);
  }
  let key: Buffer;
  if (m.backupKey.shares === 1) key = Buffer.from(unique[0]!, 'base64');
  else {
    const plain = unique.map((s) => new Uint8Array(Buffer.from(s, 'base64')));
    try {
      const secret = await combine(plain);
      key = Buffer.from(secret);
      secret.fill(0);
    } catch {
      throw new BackupError('the shares are malformed or from different backups');
    } finally {
      for (const p of plain) p.fill(0);
    }
  }
  if (key.length !== 32 || !constantTimeEqual(hmacSha256(key, KEY_CHECK_LABEL), Buffer.from(m.backupKey.check, 'base64'))) {
    zeroize(key);
    throw new BackupError('the shares do not reconstruct this backup\'s key (wrong shares, or shares of another backup)');
  }
  return key;
}

// ---- create / verify / restore ------------------------------------------------------------------

export interface CreateBackupInput {
  schemaVersion: number;
  source: Manifest['source'];
  chunks: AsyncIterable<SnapshotChunk>;
  /** Epoch ms (from the caller's clock). */
  now: number;
  shares: number;
  threshold: number;
}

export interface CreatedBackup {
  file: Buffer;
  manifest: Manifest;
  /** The backup key shares, base64: handed out once, never stored. */
  shares: string[];
}

export function validateShareParams(shares: number, threshold: number): void {
  if (!Number.isInteger(shares) || shares < 1 || shares > 255) throw new BackupError('shares must be between 1 and 255');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) throw new BackupError('threshold must be between 1 and shares');
  if (threshold === 1 && shares !== 1) throw new BackupError('threshold 1 is only allowed with a single share (every share would be the whole key)');
}

export async function createBackup(input: CreateBackupInput): Promise<CreatedBackup> {
  validateShareParams(input.shares, input.threshold);
  const { plaintext, tables, ledger } = await encodeSnapshot(input.chunks);
  const key = randomBytes(32);
  const signing = generateKeyPair({ type: 'ed25519' });
  try {
    const nonce = randomBytes(AES_GCM_NONCE_BYTES);
    const partial = {
      format: BACKUP_FORMAT,
      createdAt: new Date(input.now).toISOString(),
      schemaVersion: input.schemaVersion,
      source: input.source,
      tables,
      ...(ledger && { ledger }),
    } as const;
    const ciphertext = aesGcmSeal(key, nonce, plaintext, contentAad(partial));
    const manifest: Manifest = {
      ...partial,
      encryption: { algorithm: 'AES-256-GCM', nonce: nonce.toString('base64'), ciphertextBytes: ciphertext.length, ciphertextSha256: sha256(ciphertext).toString('hex') },
      backupKey: { shares: input.shares, threshold: input.threshold, check: hmacSha256(key, KEY_CHECK_LABEL).toString('base64') },
      signing: { algorithm: 'Ed25519', publicKey: signing.publicSpki.toString('base64'), fingerprint: fingerprintOf(signing.publicSpki) },
    };
    const manifestLine = Buffer.from(JSON.stringify(manifest));
    const signature = createSignature({ type: 'ed25519' }, signing.privatePkcs8, signedMessage(manifestLine, manifest.encryption.ciphertextSha256), false);
    const file = Buffer.concat([Buffer.from(`${MAGIC}\n`), manifestLine, Buffer.from(`\n${signature.toString('base64')}\n`), ciphertext]);
    return { file, manifest, shares: await splitKey(key, input.shares, input.threshold) };
  } finally {
    zeroize(key, plaintext, signing.privatePkcs8);
  }
}

export interface VerifiedBackup {
  manifest: Manifest;
  /** Present when shares were given: the decrypted tables, every hash and count checked. */
  tables?: DecodedTable[];
}

function parseFile(file: Buffer): { manifest: Manifest; manifestLine: Buffer; signature: Buffer; ciphertext: Buffer } {
  const magic = Buffer.from(`${MAGIC}\n`);
  if (file.length < magic.length || !file.subarray(0, magic.length).equals(magic)) throw new BackupError('not a Keywarden backup file (bad header)');
  const nl1 = file.indexOf(0x0a, magic.length);
  const nl2 = nl1 < 0 ? -1 : file.indexOf(0x0a, nl1 + 1);
  if (nl2 < 0) throw new BackupError('the backup file is truncated (no manifest or signature)');
  const manifestLine = file.subarray(magic.length, nl1);
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestLine.toString('utf8'));
  } catch {
    throw new BackupError('the manifest is not valid JSON');
  }
  const err = [...Value.Errors(ManifestSchema, manifest)][0];
  if (err) throw new BackupError(`the manifest is invalid at ${err.path || '/'}: ${err.message}`);
  const sig = file.subarray(nl1 + 1, nl2).toString('latin1');
  if (!/^[A-Za-z0-9+/]{86}==$/.test(sig)) throw new BackupError('the signature line is malformed');
  return { manifest: manifest as Manifest, manifestLine, signature: Buffer.from(sig, 'base64'), ciphertext: file.subarray(nl2 + 1) };
}

/**
 * Checks format, signature and ciphertext hash; with `shares`, also decrypts and checks every
 * table's hash and row count against the manifest. Throws BackupError naming the first problem.
 * `fingerprint`: the signing key fingerprint the custodians recorded at creation (optional pin).
 */
export async function verifyBackup(file: Buffer, opts: { shares?: readonly string[]; fingerprint?: string } = {}): Promise<VerifiedBackup> {
  const { manifest, manifestLine, signature, ciphertext } = parseFile(file);
  const spki = Buffer.from(manifest.signing.publicKey, 'base64');
  if (fingerprintOf(spki) !== manifest.signing.fingerprint) throw new BackupError('the manifest\'s signing key does not match its fingerprint');
  if (opts.fingerprint !== undefined && opts.fingerprint !== manifest.signing.fingerprint) {
    throw new BackupError(`the backup was signed by ${manifest.signing.fingerprint}, not by the expected ${opts.fingerprint}`);
  }
  const ctHash = sha256(ciphertext).toString('hex');
  let signed: boolean;
  try {
    signed = checkSignature({ type: 'ed25519' }, spki, signedMessage(manifestLine, ctHash), false, signature);
  } catch {
    signed = false;
  }
  if (!signed) {
    // Name the likelier cause: a ciphertext that no longer matches its recorded hash, else the manifest.
    if (ctHash !== manifest.encryption.ciphertextSha256 || ciphertext.length !== manifest.encryption.ciphertextBytes) {
      throw new BackupError('the encrypted snapshot was modified or truncated (its SHA-256 does not match the manifest)');
    }
    throw new BackupError('the signature does not verify: the manifest or the signature was modified');
  }
  if (ctHash !== manifest.encryption.ciphertextSha256 || ciphertext.length !== manifest.encryption.ciphertextBytes) {
    throw new BackupError('the encrypted snapshot does not match the manifest');
  }
  if (opts.shares === undefined || opts.shares.length === 0) return { manifest };

  const key = await combineShares(opts.shares, manifest);
  let plaintext: Buffer | undefined;
  try {
    plaintext = aesGcmOpen(key, Buffer.from(manifest.encryption.nonce, 'base64'), ciphertext, contentAad(manifest));
  } finally {
    zeroize(key);
  }
  if (plaintext === undefined) throw new BackupError('the snapshot does not decrypt: the ciphertext or the manifest\'s table list was modified');
  try {
    let tables: DecodedTable[];
    try {
      tables = decodeSnapshot(plaintext);
    } catch (e) {
      throw e instanceof BackupError ? e : new BackupError('the decrypted snapshot is malformed');
    }
    if (tables.length !== manifest.tables.length) throw new BackupError(`the snapshot has ${tables.length} tables, the manifest ${manifest.tables.length}`);
    manifest.tables.forEach((want, i) => {
      const got = tables[i]!;
      if (got.name !== want.name) throw new BackupError(`table ${i + 1} is ${got.name} in the snapshot but ${want.name} in the manifest`);
      if (got.rows.length !== want.rows) throw new BackupError(`table ${want.name}: ${got.rows.length} rows, the manifest says ${want.rows}`);
      if (got.sha256 !== want.sha256) throw new BackupError(`table ${want.name}: SHA-256 does not match the manifest`);
    });
    return { manifest, tables };
  } finally {
    zeroize(plaintext);
  }
}

/** The verified tables as a Snapshot for Store.restore (chunked as the stores produce them). */
export function snapshotOf(verified: Required<VerifiedBackup>, chunkRows = 500): Snapshot {
  return {
    schemaVersion: verified.manifest.schemaVersion,
    chunks: (async function* () {
      for (const t of verified.tables) {
        if (t.rows.length === 0) yield { table: t.name, columns: t.columns, rows: [] };
        for (let i = 0; i < t.rows.length; i += chunkRows) yield { table: t.name, columns: t.columns, rows: t.rows.slice(i, i + chunkRows) };
      }
    })(),
  };
}
