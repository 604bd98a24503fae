import type { Migration } from '../migrations.js';

/** Service-account public keys for signed JWT client assertions (RFC 7523) and assertion replay records (issue 3/10 §2). */
export const V8_CLIENT_KEYS: Migration = {
  version: 8,
  name: 'client assertion keys',
  sql: `
    CREATE TABLE client_keys (
      id TEXT PRIMARY KEY,
      principal_id TEXT NOT NULL REFERENCES principals(id),
      alg TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256')),
      public_key BLOB NOT NULL,
      fingerprint TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      UNIQUE (principal_id, fingerprint)
    ) STRICT;
    CREATE INDEX client_keys_principal ON client_keys (principal_id);
    CREATE TABLE client_assertion_jtis (
      client_id TEXT NOT NULL,
      jti TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (client_id, jti)
    ) STRICT;
    CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis (expires_at);
  `,
};
