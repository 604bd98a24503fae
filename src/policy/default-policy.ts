/**
 * The policy a server enforces until an operator stores one (version 0). It follows NIST SP 800-57
 * Part 1 and SP 800-131A: every key spec Keywarden offers is acceptable today (AES-256, HMAC with
 * SHA-2, RSA >= 2048, P-256/P-384, Ed25519; no SHA-1 anywhere), restricted data needs RSA >= 3072,
 * classified keys rotate at least yearly (restricted: every 90 days), prod keys must carry a
 * classification, and restricted prod keys must live in an HSM. docs/policy.md explains each choice.
 */
import { POLICY_API_VERSION, type PolicyDocument } from './policy.model.js';

export const DEFAULT_POLICY: PolicyDocument = {
  apiVersion: POLICY_API_VERSION,
  kind: 'Policy',
  metadata: { name: 'keywarden-default', description: 'NIST SP 800-57 / SP 800-131A baseline' },
  defaults: {
    allowedKeySpecs: [
      'SYMMETRIC_DEFAULT', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'RSA_2048', 'RSA_3072', 'RSA_4096',
      'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_ED25519',
    ],
    minDeletionWindowDays: 7,
  },
  classifications: {
    confidential: { maxRotationDays: 365, exportable: false },
    restricted: {
      allowedKeySpecs: ['SYMMETRIC_DEFAULT', 'HMAC_384', 'HMAC_512', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P384', 'ECC_ED25519'],
      maxRotationDays: 90,
      exportable: false,
      minDeletionWindowDays: 30,
    },
  },
  environments: {
    prod: { requireClassification: true },
  },
  rules: [
    {
      id: 'restricted-prod-hsm',
      description: 'restricted data in production is protected by keys that never leave an HSM',
      match: { classification: ['restricted'], environment: ['prod'] },
      requiredProtection: 'hsm',
    },
  ],
};
