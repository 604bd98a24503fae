import type { Migration } from '../migrations.js';

/** Service-account public keys for signed JWT client assertions (RFC 7523) and assertion replay records (issue 3/10 §2). */
export const V8_CLIENT_KEYS: Migration = {
  version: 8,
  name: 'client assertion keys',
  sql: `SELECT 1; -- placeholder: filled in by this increment`,
};
