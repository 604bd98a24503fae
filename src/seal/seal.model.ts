export type SealType = 'shamir' | 'dev';

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
}
