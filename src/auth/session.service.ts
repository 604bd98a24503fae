/**
 * Login sessions of users. A session token is `kwu_` + 256 random bits (base64url); only its
 * SHA-256 is stored and looked up (equality on the digest of a high-entropy secret: no timing
 * oracle on the secret). Idle lifetime 15 min, moved only by refresh, which issues a NEW token
 * (the old one dies) and never past 8 h after login.
 *
 * Revocation takes effect at once on this node (the cache is emptied) and within SESSION.cacheMs
 * on the others (a cached lookup is re-read from the store after that). Disabling a principal
 * deletes its sessions in the store (migration v5 trigger), so it reaches every node the same way.
 */
import { randomBytes, randomUUID, sha256Hex } from '../crypto/primitives/index.js';
import { errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import type { AccessPolicySource } from './access-policy.js';
import type { Role } from './principal.model.js';
import type { Principal } from './token.model.js';
import { SESSION, type SessionLookup, type SessionRecord } from './user.model.js';
import type { UserStore } from './user.store.js';

const MAX_TOKEN_LENGTH = 128;
const INVALID = 'The session token is not valid or has expired';

export const looksLikeSessionToken = (token: string): boolean => token.startsWith(SESSION.tokenPrefix);

/** Users holding one of the policy's MFA-required roles must enrol before doing anything else. */
export function mfaEnrollmentRequired(roles: readonly Role[], mfaEnabled: boolean, policy: AccessPolicySource): boolean {
  if (mfaEnabled) return false;
  const required = policy.current().mfaRequiredRoles;
  return roles.some((r) => required.includes(r));
}

export interface IssuedSession {
  token: string;
  session: SessionRecord;
}

export class SessionService {
  /** token hash -> lookup (only found sessions are cached, keyed by hash, never by the secret). */
  readonly #cache: TtlCache<string, SessionLookup>;

  constructor(private readonly d: { store: UserStore; clock: Clock; policy: AccessPolicySource }) {
    this.#cache = new TtlCache(d.clock, SESSION.cacheMs);
  }

  async create(principalId: string, mfaVerifiedAt: number | null): Promise<IssuedSession> {
    const now = this.d.clock.now();
    const token = newToken();
    const session: SessionRecord = {
      id: randomUUID(),
      principalId,
      tokenHash: sha256Hex(token),
      createdAt: now,
      expiresAt: now + SESSION.idleSeconds * 1000,
      absoluteExpiresAt: now + SESSION.absoluteSeconds * 1000,
      mfaVerifiedAt,
    };
    await this.d.store.createSession(session);
    // Expired sessions are dead already (authenticate checks expiry); their rows can go.
    await this.d.store.purgeExpiredSessions(now);
    return { token, session };
  }

  /** Resolves a session token to its user, or throws Unauthenticated. */
  async authenticate(token: string): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH) throw errors.unauthenticated(INVALID);
    const hash = sha256Hex(token);
    let found = this.#cache.get(hash);
    if (found === undefined) {
      found = await this.d.store.findSession(hash);
      if (found === undefined) throw errors.unauthenticated(INVALID);
      this.#cache.set(hash, found);
    }
    const { session: s, principal: p } = found;
    if (s.expiresAt <= this.d.clock.now() || p.disabled || p.kind !== 'user') throw errors.unauthenticated(INVALID);
    return {
      kind: 'user',
      id: p.id,
      name: p.name,
      roles: p.roles,
      accessor: `ses_${s.id}`,
      displayName: p.name,
      environment: p.environment,
      session: { id: s.id, mfaVerifiedAt: s.mfaVerifiedAt, mfaEnrollmentRequired: mfaEnrollmentRequired(p.roles, found.mfaEnabled, this.d.policy) },
    };
  }

  /** The caller's session record (the principal must come from a session token). */
  async current(principal: Principal, token: string): Promise<SessionRecord> {
    const found = principal.session && (await this.d.store.findSession(sha256Hex(token)));
    if (!found || found.session.id !== principal.session?.id) throw errors.unauthenticated(INVALID);
    return found.session;
  }

  /**
   * Issues a new token for the caller's session; the presented one stops working. The new idle
   * expiry is min(now + 15 min, login + 8 h).
   */
  async refresh(principal: Principal, token: string): Promise<IssuedSession> {
    const s = await this.current(principal, token);
    const now = this.d.clock.now();
    const next = newToken();
    const expiresAt = Math.min(now + SESSION.idleSeconds * 1000, s.absoluteExpiresAt);
    if (expiresAt <= now || !(await this.d.store.rotateSessionToken(s.id, s.tokenHash, sha256Hex(next), expiresAt))) {
      throw errors.unauthenticated(INVALID);
    }
    this.#cache.delete(s.tokenHash);
    return { token: next, session: { ...s, tokenHash: sha256Hex(next), expiresAt } };
  }

  async markMfaVerified(sessionId: string): Promise<number> {
    const at = this.d.clock.now();
    await this.d.store.setSessionMfaVerified(sessionId, at);
    this.#cache.clear();
    return at;
  }

  async revoke(sessionId: string): Promise<boolean> {
    const gone = await this.d.store.deleteSession(sessionId);
    this.#cache.clear();
    return gone;
  }

  /** Ends every session of a principal (except `keep`, the caller's own, when given). */
  async revokeAll(principalId: string, keep?: string): Promise<number> {
    const n = await this.d.store.deleteSessionsOf(principalId, keep);
    this.#cache.clear();
    return n;
  }

  /** Forget cached sessions after a change to their principal made elsewhere (roles, disabled). */
  invalidate(): void {
    this.#cache.clear();
  }
}

function newToken(): string {
  return SESSION.tokenPrefix + randomBytes(32).toString('base64url');
}
