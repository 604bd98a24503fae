/**
 * Keywarden SDK — `import { Keywarden } from 'keywarden/sdk'`. Guide: docs/sdk.md.
 * Nothing here loads server code: the wire types are type-only imports of the server's schemas.
 */
export { Keywarden, type KeywardenOptions, type Stats } from './client.js';
export { DataKeyCache, type CacheLimits, type CacheStats } from './cache.js';
export { Envelope, inspectMessage, type EnvelopeEncryptOptions, type EnvelopeDecryptOptions, type DecryptedMessage, type StreamHeader } from './envelope.js';
export { KeywardenError, InvalidMessageError, INVALID_MESSAGE, type SdkErrorCode, type DecryptFailure } from './errors.js';
export type { Clock, HttpOptions } from './http.js';
export { FORMAT_VERSION, SUITE_AES256GCM_HKDF_SHA512_COMMIT, DEFAULT_FRAME_LENGTH, type WrappedKey } from './format.js';
export type * from './types.js';
