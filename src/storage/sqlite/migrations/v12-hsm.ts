import type { Migration } from '../migrations.js';

/**
 * HSM-protected keys (issue 6/10): a version of a `protection: hsm` key lives in the HSM as a
 * non-extractable token object; the store keeps only its CKA_LABEL (not secret) and an empty
 * wrapped_material. A destroyed HSM version keeps its label, so the object can be found again.
 */
export const V12_HSM: Migration = {
  version: 12,
  name: 'hsm',
  sql: `
    ALTER TABLE key_versions ADD COLUMN hsm_label TEXT CHECK (hsm_label IS NULL OR length(hsm_label) BETWEEN 1 AND 128);
  `,
};
