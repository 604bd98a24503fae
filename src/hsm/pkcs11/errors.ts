/**
 * PKCS#11 errors mapped to the catalog: the module or token cannot be reached (the caller may
 * retry; the adapter reconnects) → HsmUnavailable; anything else → Internal. The message names the
 * PKCS#11 function and the CKR name, never a PIN or key value.
 */
import { KeywardenError } from '../../errors/catalog.js';

/** Return values that mean "the token or the connection to it is gone": reconnect and retry. */
export const UNAVAILABLE = new Set([
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_MEMORY',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_COUNT',
  'CKR_SLOT_ID_INVALID',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_USER_NOT_LOGGED_IN',
]);

/** Object handles go stale when another process or session destroys an object: look it up again. */
export const STALE_HANDLE = new Set(['CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID']);

/** The CKR name of a binding error (e.g. CKR_GENERAL_ERROR), or undefined for other errors. */
export function ckrOf(e: unknown): string | undefined {
  const m = e instanceof Error ? /^CKR_[A-Z0-9_]+/.exec(e.message) : null;
  return m ? m[0] : undefined;
}

export function mapPkcs11Error(fn: string, e: unknown): KeywardenError {
  if (e instanceof KeywardenError) return e;
  const ckr = ckrOf(e);
  if (ckr === undefined) return new KeywardenError('Internal', `PKCS#11 ${fn} failed`);
  return new KeywardenError(UNAVAILABLE.has(ckr) ? 'HsmUnavailable' : 'Internal', `PKCS#11 ${fn} failed: ${ckr}`, { function: fn, ckr });
}
