/**
 * Custodian share files of scheduled backups: each backup key share encrypted to one custodian's
 * public key (src/crypto/primitives/recipient-seal.ts) and written beside the backup as
 * `<backup file>.<custodian>.share` (JSON, docs/backup.md). The metadata (backup file name, signing
 * fingerprint, custodian, share number, threshold) is the AAD: a share file renamed or edited to
 * pass for another backup's or another custodian's does not open.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { RECIPIENT_ALGORITHMS, openAsRecipient, sealForRecipient } from '../crypto/primitives/recipient-seal.js';
import { zeroize } from '../crypto/secret-bytes.js';
import { BackupError } from './backup.js';

export const SHARE_FILE_FORMAT = 'keywarden-backup-share/1';

const B64 = Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 8192 });
export const ShareFileSchema = Type.Object({
  format: Type.Literal(SHARE_FILE_FORMAT),
  /** The backup file's name (no directory). */
  backup: Type.String({ minLength: 1, maxLength: 255 }),
  createdAt: Type.String({ maxLength: 64 }),
  fingerprint: Type.String({ pattern: '^SHA256:[0-9a-f]{64}$' }),
  custodian: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  share: Type.Integer({ minimum: 1, maximum: 255 }),
  shares: Type.Integer({ minimum: 1, maximum: 255 }),
  threshold: Type.Integer({ minimum: 1, maximum: 255 }),
  sealed: Type.Object({
    algorithm: Type.Union(RECIPIENT_ALGORITHMS.map((a) => Type.Literal(a))),
    encapsulated: B64,
    nonce: B64,
    ciphertext: B64,
  }, { additionalProperties: false }),
}, { additionalProperties: false });
export type ShareFile = Static<typeof ShareFileSchema>;
type ShareMeta = Omit<ShareFile, 'format' | 'sealed'>;

export const shareFileName = (backupFile: string, custodian: string) => `${backupFile}.${custodian}.share`;

const aadOf = (m: ShareMeta) =>
  Buffer.from(JSON.stringify([SHARE_FILE_FORMAT, m.backup, m.createdAt, m.fingerprint, m.custodian, m.share, m.shares, m.threshold]));

/** The share file content for one custodian (the share is a base64 backup key share). */
export function sealShare(meta: ShareMeta, publicKeyPem: string, share: string): string {
  const plain = Buffer.from(share, 'utf8');
  try {
    const file: ShareFile = { format: SHARE_FILE_FORMAT, ...meta, sealed: sealForRecipient(publicKeyPem, plain, aadOf(meta)) };
    return `${JSON.stringify(file, null, 2)}\n`;
  } finally {
    zeroize(plain);
  }
}

/** Opens a share file with the custodian's PEM private key; BackupError naming what is wrong. */
export function openShare(content: string, privateKeyPem: string | Buffer): { meta: ShareMeta; share: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    throw new BackupError('not a Keywarden backup share file (not JSON)');
  }
  const err = [...Value.Errors(ShareFileSchema, parsed)][0];
  if (err) throw new BackupError(`not a Keywarden backup share file: ${err.path || '/'} ${err.message}`);
  const { format: _format, sealed, ...meta } = parsed as ShareFile;
  let plain: Buffer | undefined;
  try {
    plain = openAsRecipient(privateKeyPem, sealed, aadOf(meta));
  } catch (e) {
    throw new BackupError((e as Error).message);
  }
  if (plain === undefined) throw new BackupError('the share does not open with this private key (another custodian\'s key, or the file was modified)');
  const share = plain.toString('utf8');
  zeroize(plain);
  return { meta, share };
}

/**
 * The backup key shares of the backup at `backupPath` that these custodian private keys open, from
 * the share files beside it (automated drills; a custodian usually runs `backup decrypt-share`).
 */
export async function sharesFromFiles(backupPath: string, privateKeys: readonly Buffer[]): Promise<string[]> {
  const name = basename(backupPath);
  const files = (await readdir(dirname(backupPath))).filter((f) => f.startsWith(`${name}.`) && f.endsWith('.share'));
  const shares: string[] = [];
  for (const f of files) {
    const content = await readFile(join(dirname(backupPath), f), 'utf8');
    for (const key of privateKeys) {
      try {
        const opened = openShare(content, key);
        if (opened.meta.backup === name) shares.push(opened.share);
        break;
      } catch {
        // another custodian's share
      }
    }
  }
  if (shares.length === 0) throw new BackupError(`none of the ${files.length} share files beside ${name} opens with the given custodian keys`);
  return shares;
}
