/**
 * The ONE closed catalog of errors Keywarden returns. Every transport maps a KeywardenError through
 * this table and nothing else: HTTP status for the native REST API, the AWS KMS `__type` name for
 * the AWS-compatible API (issue 7/10), and the KMIP result reason (issue 6/10+).
 *
 * Contract: messages passed to KeywardenError MUST NOT contain key material, tokens, secrets,
 * stack traces or filesystem paths. Crypto failures MUST use `InvalidCiphertext` with the fixed
 * message below so that a wrong context, a wrong key and a tampered ciphertext are indistinguishable.
 */
export const ERROR_CATALOG = {
  ValidationError: { status: 400, aws: 'ValidationException', kmip: 'Invalid_Field' },
  Unauthenticated: { status: 401, aws: 'UnrecognizedClientException', kmip: 'Authentication_Not_Successful' },
  PermissionDenied: { status: 403, aws: 'AccessDeniedException', kmip: 'Permission_Denied' },
  NotFound: { status: 404, aws: 'NotFoundException', kmip: 'Item_Not_Found' },
  AlreadyExists: { status: 409, aws: 'AlreadyExistsException', kmip: 'Invalid_Field' },
  InvalidCiphertext: { status: 400, aws: 'InvalidCiphertextException', kmip: 'Cryptographic_Failure' },
  Disabled: { status: 409, aws: 'DisabledException', kmip: 'Wrong_Key_Lifecycle_State' },
  InvalidState: { status: 409, aws: 'KMSInvalidStateException', kmip: 'Wrong_Key_Lifecycle_State' },
  InvalidKeyUsage: { status: 400, aws: 'InvalidKeyUsageException', kmip: 'Incompatible_Cryptographic_Usage_Mask' },
  AlreadyInitialized: { status: 409, aws: 'KMSInvalidStateException', kmip: 'Operation_Not_Supported' },
  NotInitialized: { status: 501, aws: 'KMSInternalException', kmip: 'General_Failure' },
  InvalidShare: { status: 400, aws: 'ValidationException', kmip: 'Invalid_Field' },
  Sealed: { status: 503, aws: 'KMSInternalException', kmip: 'General_Failure' },
  LimitExceeded: { status: 413, aws: 'LimitExceededException', kmip: 'General_Failure' },
  /** A user must step up with a fresh TOTP code (or enrol MFA) before this action. */
  MfaRequired: { status: 401, aws: 'AccessDeniedException', kmip: 'Authentication_Not_Successful' },
  /** Too many failed logins: the account is locked for a while (back-off). */
  LockedOut: { status: 429, aws: 'LimitExceededException', kmip: 'Authentication_Not_Successful' },
  /** The action needs a quorum of approvals: create a request and have it approved. */
  ApprovalRequired: { status: 403, aws: 'AccessDeniedException', kmip: 'Permission_Denied' },
  /** The policy engine refused the call; details name the rule (`rule`, `field`). */
  PolicyViolation: { status: 403, aws: 'AccessDeniedException', kmip: 'Permission_Denied' },
  /** The HSM (PKCS#11 module or token) cannot be reached; the call may be retried. */
  HsmUnavailable: { status: 503, aws: 'KMSInternalException', kmip: 'General_Failure' },
  Internal: { status: 500, aws: 'KMSInternalException', kmip: 'General_Failure' },
} as const satisfies Record<string, { status: number; aws: string; kmip: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The fixed, uniform message for every failed decryption (ARCHITECTURE rule 5). */
export const INVALID_CIPHERTEXT_MESSAGE =
  'The ciphertext is invalid: it was not produced by this Keywarden, was modified, or the encryption context does not match';

export class KeywardenError extends Error {
  readonly code: ErrorCode;
  /** Extra, non-secret structured fields returned to the caller (e.g. unseal progress). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'KeywardenError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}

export const errors = {
  validation: (message: string) => new KeywardenError('ValidationError', message),
  /** `rule` is the refusing rule id (e.g. classifications.restricted.allowedKeySpecs); the message says what to change. */
  policyViolation: (v: { rule: string; field: string; message: string }) =>
    new KeywardenError('PolicyViolation', `policy rule ${v.rule}: ${v.message}`, { rule: v.rule, field: v.field }),
  notFound: (what: string) => new KeywardenError('NotFound', `${what} was not found`),
  invalidCiphertext: () => new KeywardenError('InvalidCiphertext', INVALID_CIPHERTEXT_MESSAGE),
  sealed: () =>
    new KeywardenError('Sealed', 'Keywarden is sealed: unseal it with the unseal shares before using keys'),
  unauthenticated: (message = 'A valid bearer token is required') => new KeywardenError('Unauthenticated', message),
  internal: () => new KeywardenError('Internal', 'An internal error occurred; see the server log for the request id'),
};

export function isKeywardenError(e: unknown): e is KeywardenError {
  return e instanceof KeywardenError;
}
