/**
 * Cross-node cache invalidation (issue 10 §2, ADR 0012): another node's change drops what this
 * node caches about it, so a disabled key, a revoked token or a new policy takes effect here as
 * soon as the change arrives (well within a second), instead of when the TTLs run out. Changes of
 * this node's own origin are skipped: the writing service already dropped its entries. `all` (the
 * feed reconnected and may have missed changes) drops everything.
 */
import type { Change, ChangeFeed } from './cluster.js';

/** The cache owners, each with the narrow hook it offers. */
export interface Invalidatable {
  keys: { invalidate(keyId?: string): void };
  tokens: { invalidate(): void };
  accessTokens: { invalidate(jti?: string): void; invalidatePrincipal(id: string): void };
  sessions: { invalidate(): void };
  grants: { invalidate(): void };
  accessKeys: { invalidate(accessKeyId?: string): void };
  keyPolicies: { invalidate(keyId?: string): void };
  /** Re-read the stored document (rejections are ignored: the periodic refresh retries). */
  policy: { load(): Promise<void> };
  accessPolicy: { load(): Promise<void> };
}

export function applyChange(t: Invalidatable, c: Change): void {
  const reload = (s: { load(): Promise<void> }) => void s.load().catch(() => undefined);
  switch (c.topic) {
    case 'key':
      return t.keys.invalidate(c.id);
    case 'alias': // aliases resolve through the record cache; handles are re-checked once (cheap)
      return t.keys.invalidate();
    case 'token':
      t.tokens.invalidate();
      return t.accessTokens.invalidate(c.id);
    case 'principal':
      if (c.id !== undefined) t.accessTokens.invalidatePrincipal(c.id);
      else t.accessTokens.invalidate();
      t.sessions.invalidate();
      t.accessKeys.invalidate();
      return t.grants.invalidate();
    case 'grant':
      return t.grants.invalidate();
    case 'session':
      return t.sessions.invalidate();
    case 'policy':
      return reload(t.policy);
    case 'access-policy':
      return reload(t.accessPolicy);
    case 'key-policy':
      return t.keyPolicies.invalidate(c.id);
    case 'access-key':
      return t.accessKeys.invalidate(c.id);
    case 'all':
      t.keys.invalidate();
      t.tokens.invalidate();
      t.accessTokens.invalidate();
      t.sessions.invalidate();
      t.grants.invalidate();
      t.accessKeys.invalidate();
      t.keyPolicies.invalidate();
      reload(t.policy);
      return reload(t.accessPolicy);
  }
}

/** Subscribes `t` to the feed; returns the unsubscribe function. */
export function invalidateOnChanges(feed: ChangeFeed, node: string, t: Invalidatable): () => void {
  return feed.subscribe((c) => {
    if (c.topic !== 'all' && c.origin === node) return;
    applyChange(t, c);
  });
}
