/** Typed errors of the SDK. Messages never contain key material, tokens or secrets. */
import type { ErrorCode } from '../errors/catalog.js';

/** A catalog code from the server, or one of the SDK's own: the network failed or timed out. */
export type SdkErrorCode = ErrorCode | 'NetworkError' | 'Timeout';

/** Why an envelope message did not decrypt (diagnostics only: the message is uniform, rule 5). */
export type DecryptFailure = 'format' | 'context' | 'unwrap' | 'commitment' | 'frame' | 'truncated';

export const INVALID_MESSAGE = 'The message is invalid: it is malformed, was modified or truncated, or no wrapping key could unwrap its data key';

export class KeywardenError extends Error {
  constructor(
    readonly code: SdkErrorCode,
    message: string,
    readonly status?: number,
    readonly requestId?: string,
    /** Extra, non-secret fields of the server's error body (retryAfterSeconds, rule, field, ...). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'KeywardenError';
  }

  /** 429 and 503 answers and network failures may succeed later; 4xx never do. */
  get retryable(): boolean {
    return this.status === 429 || this.status === 503 || this.code === 'NetworkError' || this.code === 'Timeout';
  }
}

/** Any envelope decryption failure: one code and one message; `reason` is for logs and tests. */
export class InvalidMessageError extends KeywardenError {
  constructor(readonly reason: DecryptFailure) {
    super('InvalidCiphertext', INVALID_MESSAGE);
    this.name = 'InvalidMessageError';
  }
}
