/** KMS key model. A KMS key (a.k.a. KEK / customer master key) has versions v1..vN, one primary. */
export const KEY_SPECS = ['SYMMETRIC_DEFAULT'] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = ['ENCRYPT_DECRYPT'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

/** Lifecycle states; issue 2/10 adds the transitions between them. */
export const KEY_STATES = ['Enabled', 'Disabled', 'PendingDeletion', 'Destroyed', 'Compromised', 'PendingImport'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export type KeyOrigin = 'KEYWARDEN';

export interface KeyRecord {
  id: string;
  description: string;
  spec: KeySpec;
  usage: KeyUsage;
  state: KeyState;
  origin: KeyOrigin;
  createdAt: number;
  updatedAt: number;
  primaryVersion: number;
  tags: Record<string, string>;
  aliases: string[];
}

export type KeyVersionState = 'Enabled' | 'Disabled' | 'Destroyed';

export interface KeyVersionRecord {
  keyId: string;
  version: number;
  state: KeyVersionState;
  createdAt: number;
  /** Key material wrapped by the barrier under the root key. Never plaintext. */
  wrappedMaterial: Buffer;
}

/** AWS KMS alias rules: alias/ prefix, 1–256 chars of [a-zA-Z0-9/_-], not the reserved alias/aws/. */
export const ALIAS_PATTERN = '^alias/[a-zA-Z0-9/_-]+$';
const ALIAS_RE = new RegExp(ALIAS_PATTERN);

export function aliasProblem(alias: string): string | undefined {
  if (alias.length > 256) return `alias "${alias.slice(0, 40)}..." is longer than 256 characters`;
  if (!ALIAS_RE.test(alias)) return `alias "${alias}" must match alias/[a-zA-Z0-9/_-]+`;
  if (alias.startsWith('alias/aws/') || alias.startsWith('alias/keywarden/')) return `alias "${alias}" uses a reserved prefix`;
  return undefined;
}

export const KEY_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
export const KEY_ID_RE = new RegExp(KEY_ID_PATTERN);
