/**
 * AWS access keys (issue 8): a SigV4 credential pair issued to a Keywarden principal. SigV4 needs
 * the secret itself to recompute a signature, so (unlike bearer secrets, stored as hashes) the
 * secret is stored encrypted by the barrier under the root key, usable only while unsealed.
 */

/** The principal id that stands for the bootstrap root identity (an access key "as the root token does"). */
export const ROOT_PRINCIPAL_ID = 'root';

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface AccessKeyRecord {
  /** Public id (AKIA-style, safe to log). */
  accessKeyId: string;
  /** A principal id, or ROOT_PRINCIPAL_ID. */
  principalId: string;
  /** barrierWrap(rootKey, accessKeyPurpose(accessKeyId), secret): never stored in clear. */
  wrappedSecret: Buffer;
  status: AccessKeyStatus;
  createdAt: number;
  /** Principal id of whoever created it. */
  createdBy: string;
}

export const accessKeyPurpose = (accessKeyId: string) => `aws-access-key:${accessKeyId}`;

export interface AccessKeyStore {
  createAccessKey(k: AccessKeyRecord): Promise<void>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  /** Every access key, or those of one principal, ordered by creation. */
  listAccessKeys(principalId?: string): Promise<AccessKeyRecord[]>;
  /** False when there is no such key. */
  setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<boolean>;
  /** False when there is no such key. */
  deleteAccessKey(accessKeyId: string): Promise<boolean>;
  /** Deletes every key of a principal (revoking the root identity removes its keys); returns how many. */
  deleteAccessKeysOf(principalId: string): Promise<number>;
}
