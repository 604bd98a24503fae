/**
 * Signed JWT client assertions (RFC 7523 §2.2, RFC 7521 §4.2): a service account proves its
 * identity at the token endpoint with a short-lived JWT signed by a private key it holds, instead
 * of a client secret. The public keys (Ed25519, P-256, RSA ≥ 2048) are registered per account.
 *
 * Contract (RFC 7523 §3): iss and sub MUST both be the client id; aud MUST name this server
 * ("keywarden" or the token endpoint URL); exp is required and at most 5 minutes ahead; jti is
 * required and single use until exp (replay records in the store); the JWS alg MUST be the one of
 * the registered key (never "none", never an HMAC with the public key as secret). Every failure
 * gives the same invalid-client answer as a wrong client secret, so a caller learns nothing about
 * which check failed.
 */
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { clientPublicKey, type ClientKeyAlg } from '../crypto/primitives/client-keys.js';
import { errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import type { PrincipalRecord } from './principal.model.js';
import type { PrincipalStore } from './principal.store.js';

/** RFC 7523 §2.2 client_assertion_type. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export const CLIENT_ASSERTION = {
  audience: 'keywarden',
  /** exp may be at most this far after iat and after now. */
  maxLifetimeSeconds: 300,
  /** Tolerated clock difference between the client and this server (exp, nbf, iat in the future). */
  clockSkewSeconds: 30,
  maxLength: 8192,
  maxJtiLength: 256,
  maxKeysPerAccount: 10,
} as const;

/** The same answer as a wrong client secret (src/auth/service-account.service.ts). */
const INVALID_CLIENT_MESSAGE = 'The client credentials are not valid';

/** A registered public key of a service account. `publicKey` is SPKI DER; `id` is the JWS `kid`. */
export interface ClientKeyRecord {
  id: string;
  principalId: string;
  alg: ClientKeyAlg;
  publicKey: Buffer;
  /** SHA-256 of the SPKI DER, base64url. */
  fingerprint: string;
  createdAt: number;
}

const HOST_RE = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;

/** Audiences this server answers to: "keywarden" and the token endpoint URL on the host the request was sent to. */
export function assertionAudiences(host: string | undefined): string[] {
  const out: string[] = [CLIENT_ASSERTION.audience];
  if (host !== undefined && HOST_RE.test(host)) out.push(`https://${host}/v1/auth/token`, `http://${host}/v1/auth/token`);
  return out;
}

export class ClientAssertionVerifier {
  constructor(private readonly d: { store: PrincipalStore; clock: Clock }) {}

  /**
   * Verifies `assertion` and returns the enabled service account it authenticates, or throws the
   * uniform invalid-client Unauthenticated. `clientId`, when the request also sent one, MUST match
   * (RFC 7521 §4.2). `host` is the Host the request was sent to (token endpoint audience).
   */
  async verify(assertion: string, opts: { clientId?: string; host?: string } = {}): Promise<PrincipalRecord> {
    const p = await this.#verify(assertion, opts).catch(() => undefined);
    if (p === undefined) throw errors.unauthenticated(INVALID_CLIENT_MESSAGE);
    return p;
  }

  async #verify(assertion: string, opts: { clientId?: string; host?: string }): Promise<PrincipalRecord | undefined> {
    if (assertion.length > CLIENT_ASSERTION.maxLength || assertion.split('.').length !== 3) return undefined;
    // Unverified reads only pick the account and its key; the signature check below decides.
    const header = decodeProtectedHeader(assertion);
    const claims = decodeJwt(assertion);
    const clientId = claims.iss;
    if (typeof clientId !== 'string' || claims.sub !== clientId || (opts.clientId !== undefined && opts.clientId !== clientId)) return undefined;
    const cred = clientId.length <= 128 ? await this.d.store.getCredential(clientId) : undefined;
    if (cred === undefined) return undefined;
    const principal = await this.d.store.getPrincipalById(cred.principalId);
    if (principal === undefined || principal.disabled || principal.kind !== 'service-account') return undefined;
    const candidates = (await this.d.store.listClientKeys(principal.id)).filter((k) => k.alg === header.alg && (header.kid === undefined || header.kid === k.id));

    const now = this.d.clock.now();
    for (const k of candidates) {
      let payload;
      try {
        ({ payload } = await jwtVerify(assertion, clientPublicKey(k.publicKey), {
          algorithms: [k.alg],
          issuer: clientId,
          subject: clientId,
          audience: assertionAudiences(opts.host),
          currentDate: new Date(now),
          clockTolerance: CLIENT_ASSERTION.clockSkewSeconds,
          requiredClaims: ['exp', 'jti'],
        }));
      } catch {
        continue;
      }
      const nowS = now / 1000;
      const { exp, iat, jti } = payload;
      if (typeof exp !== 'number' || typeof jti !== 'string' || jti.length === 0 || jti.length > CLIENT_ASSERTION.maxJtiLength) return undefined;
      if (exp - nowS > CLIENT_ASSERTION.maxLifetimeSeconds) return undefined;
      if (iat !== undefined && (iat > nowS + CLIENT_ASSERTION.clockSkewSeconds || exp - iat > CLIENT_ASSERTION.maxLifetimeSeconds)) return undefined;
      // Single use: the record lives until the assertion would have expired anyway.
      const expiresAt = (exp + CLIENT_ASSERTION.clockSkewSeconds) * 1000;
      if (!(await this.d.store.useAssertionJti(clientId, jti, expiresAt, now))) return undefined;
      return principal;
    }
    return undefined;
  }
}
