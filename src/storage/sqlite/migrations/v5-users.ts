import type { Migration } from '../migrations.js';

/** Users: password hashes, TOTP enrolment, recovery codes, sessions, login attempts (issue 3/10 §1). */
export const V5_USERS: Migration = {
  version: 5,
  name: 'users, sessions, login attempts',
  sql: `SELECT 1; -- placeholder: filled in by this increment`,
};
