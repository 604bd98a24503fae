/**
 * shamir: the unseal key is split across operators. dev: the unseal key sits in a file (insecure).
 * pkcs11: the root key is wrapped by a non-extractable AES key inside an HSM; auto-unseal at start.
 */
export type SealType = 'shamir' | 'dev' | 'pkcs11';

/**
 * What the store keeps about the seal. Contract: it MUST NOT contain anything that could rebuild
 * the root key without the unseal material (shares / dev key file / HSM key).
 */
export interface SealConfig {
  type: SealType;
  shares: number;
  threshold: number;
  /** The root key wrapped (barrier format) under the unseal key. */
  wrappedRootKey: Buffer;
  /** HMAC-SHA256(shareCheckSalt, share) per issued share: rejects a foreign share at once. */
  shareDigests: string[];
  shareCheckSalt: Buffer;
  createdAt: number;
}

export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  sealType: SealType | null;
  threshold: number;
  shares: number;
  progress: number;
  /** Why a pkcs11-sealed Keywarden is still sealed (HSM unreachable, unwrap failed); never a secret. */
  sealReason?: string;
}
