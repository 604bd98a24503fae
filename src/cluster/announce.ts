/**
 * Publishes a change after every committed write to something a node caches (ADR 0012). The
 * announcement happens at the store seam rather than in each service: whoever writes (a service,
 * an approval executing a request, a job), every other node hears of it. The local node already
 * dropped its own cache entries (services do that after their writes), so listeners ignore
 * changes of their own origin.
 *
 * Each method of a wrapped sub-store is a read (passed through), quiet (a write no node caches:
 * usage counters, new sessions, login attempts, ...), or announced with a topic and, when the
 * arguments name it, an id. A write method missing from these tables is announced topic-wide
 * (fail closed: over-invalidation only costs a cache miss); test/cluster/announce.test.ts makes
 * sure every method of the real stores is classified.
 */
import type { Store } from '../storage/store.js';
import type { Change, ChangeFeed, ChangeTopic } from './cluster.js';

// Store methods have every signature; the id pickers below read their first argument loosely.
type Args = any[];
type Announce = ChangeTopic | ((args: Args) => Omit<Change, 'origin'>);
interface Rules {
  topic: ChangeTopic;
  announced: Record<string, Announce>;
  quiet: readonly string[];
}

/** Method names that only read. */
export const READ_METHOD = /^(get|find|list|is|resolve|latest|search|count|recoveryCodesLeft$)/;

const idOf = (topic: ChangeTopic, pick: (args: Args) => unknown) => (args: Args) => {
  const id = pick(args);
  return typeof id === 'string' ? { topic, id } : { topic };
};

export const ANNOUNCE_RULES: Partial<Record<keyof Store, Rules>> = {
  keys: {
    topic: 'key',
    announced: {
      createKey: idOf('key', (a) => a[0]?.id),
      applyChange: idOf('key', (a) => a[0]?.key?.id),
      createAlias: 'alias',
      updateAlias: 'alias',
      deleteAlias: 'alias',
    },
    // Usage counters are refreshed by the material re-check (KeyService); import tokens are not cached.
    quiet: ['addUsage', 'putImportToken', 'takeImportToken'],
  },
  tokens: { topic: 'token', announced: { deleteTokensOfKind: 'token' }, quiet: ['putToken'] },
  principals: {
    topic: 'principal',
    announced: {
      createPrincipal: idOf('principal', (a) => a[0]?.id),
      setRoles: idOf('principal', (a) => a[0]),
      setDisabled: idOf('principal', (a) => a[0]),
      setEnvironment: idOf('principal', (a) => a[0]),
      replaceCredential: idOf('principal', (a) => a[0]?.principalId),
      createGrant: idOf('grant', (a) => a[0]?.principalId),
      revokeGrant: 'grant',
      // The JWT id of a revoked access token (public: it is in the token).
      revokeToken: idOf('token', (a) => a[0]),
    },
    quiet: ['recordGrantUse', 'purgeRevokedTokens', 'putSigningKeyIfAbsent', 'addClientKey', 'deleteClientKey', 'useAssertionJti'],
  },
  users: {
    topic: 'session',
    announced: {
      createUser: idOf('principal', (a) => a[0]?.id),
      confirmMfa: 'session',
      resetMfa: 'session',
      rotateSessionToken: 'session',
      setSessionMfaVerified: 'session',
      deleteSession: 'session',
      deleteSessionsOf: 'session',
    },
    quiet: ['setPassword', 'setPendingMfa', 'advanceTotpStep', 'useRecoveryCode', 'createSession', 'purgeExpiredSessions', 'beginLoginAttempt', 'undoLoginAttempt', 'clearLoginAttempts'],
  },
  policies: { topic: 'policy', announced: { appendPolicyVersion: 'policy' }, quiet: [] },
  approvals: { topic: 'access-policy', announced: { putAccessPolicy: 'access-policy' }, quiet: ['createRequest', 'updateRequest', 'expirePending', 'failStaleApproved'] },
  accessKeys: {
    topic: 'access-key',
    announced: {
      createAccessKey: idOf('access-key', (a) => a[0]?.accessKeyId),
      setAccessKeyStatus: idOf('access-key', (a) => a[0]),
      deleteAccessKey: idOf('access-key', (a) => a[0]),
      deleteAccessKeysOf: 'access-key',
    },
    quiet: [],
  },
  keyPolicies: { topic: 'key-policy', announced: { putKeyPolicy: idOf('key-policy', (a) => a[0]?.keyId) }, quiet: ['setGrantRetiree'] },
};

/** The change a call of `method` announces; undefined for reads and quiet writes. */
export function changeOf(rules: Rules, method: string, args: Args): Omit<Change, 'origin'> | undefined {
  const a = rules.announced[method];
  if (a !== undefined) return typeof a === 'string' ? { topic: a } : a(args);
  if (READ_METHOD.test(method) || rules.quiet.includes(method)) return undefined;
  return { topic: rules.topic };
}

function wrap<T extends object>(target: T, rules: Rules, feed: ChangeFeed): T {
  const fns = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      let f = fns.get(prop);
      if (f === undefined) {
        const method = v as (...a: Args) => unknown;
        const announces = rules.announced[prop] !== undefined || !(READ_METHOD.test(prop) || rules.quiet.includes(prop));
        // Called on the target itself: class stores keep private fields (#db) that a proxy `this` lacks.
        f = announces
          ? async (...args: Args) => {
              try {
                return await method.apply(t, args);
              } finally {
                // Also after a failure: the write may have committed before the error (connection lost).
                const c = changeOf(rules, prop, args);
                if (c !== undefined) await feed.publish(c);
              }
            }
          : method.bind(t);
        fns.set(prop, f);
      }
      return f;
    },
  });
}

/** `store` whose cached-entity writes announce themselves on its cluster feed; every other member passes through. */
export function announceChanges(store: Store): Store {
  const feed = store.cluster.feed;
  const wrapped = new Map<PropertyKey, unknown>();
  for (const [name, rules] of Object.entries(ANNOUNCE_RULES) as Array<[keyof Store, Rules]>) wrapped.set(name, wrap(store[name] as object, rules, feed));
  return new Proxy(store, {
    get(t, prop) {
      if (wrapped.has(prop)) return wrapped.get(prop);
      const v = Reflect.get(t, prop, t) as unknown;
      return typeof v === 'function' ? (v as (...a: Args) => unknown).bind(t) : v;
    },
  });
}
