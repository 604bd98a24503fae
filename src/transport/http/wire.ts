/**
 * Wire-format helpers of the native REST API: strict base64, bearer tokens, ISO times, and the
 * JSON views of keys and versions.
 */
import type { FastifyRequest } from 'fastify';
import { errors } from '../../errors/catalog.js';
import type { KeyRecord, KeyVersionRecord } from '../../keys/key.model.js';
import { effectiveUsageLimit, DAY_MS } from '../../keys/key.service.js';
import type { Call } from '../../ops/pipeline.js';

/** Strict base64 decoding: Buffer.from(s, 'base64') silently skips junk, so check first. */
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export function decodeBase64(field: string, value: string): Buffer {
  if (!B64_RE.test(value)) throw errors.validation(`${field} is not valid base64`);
  return Buffer.from(value, 'base64');
}

export const b64 = (b: Buffer) => b.toString('base64');

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(h);
  return m ? m[1] : '';
}

/** One-time password for MFA step-up, sent with the request that needs it. */
function otp(req: FastifyRequest): string | undefined {
  const h = req.headers['x-keywarden-otp'];
  return typeof h === 'string' ? h : undefined;
}

/** The call as the ops/ pipeline sees it. Never sets `internal` (only the server's own executors do). */
export const call = (req: FastifyRequest): Call => ({ token: bearer(req), requestId: req.id, sourceIp: req.ip, otp: otp(req) });

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Parses an ISO 8601 date-time (already shape-checked by the schema) into epoch ms. */
export function parseIso(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw errors.validation(`${field} is not an ISO 8601 date-time`);
  return t;
}

export function keyView(k: KeyRecord) {
  return {
    id: k.id,
    aliases: k.aliases,
    description: k.description,
    spec: k.spec,
    usage: k.usage,
    state: k.state,
    origin: k.origin,
    exportable: k.exportable,
    tags: k.tags,
    createdAt: new Date(k.createdAt).toISOString(),
    updatedAt: new Date(k.updatedAt).toISOString(),
    primaryVersion: k.primaryVersion,
    minDecryptionVersion: k.minDecryptionVersion,
    rotationPeriodDays: k.rotationPeriodMs === null ? null : Math.round(k.rotationPeriodMs / DAY_MS),
    nextRotationAt: iso(k.nextRotationAt),
    usageLimit: effectiveUsageLimit(k),
    deletionAt: iso(k.deletionAt),
    compromisedAt: iso(k.compromisedAt),
    revocationReason: k.revocationReason,
    materialExpiresAt: iso(k.materialExpiresAt),
    lastUsedAt: iso(k.lastUsedAt),
    classification: k.classification,
    environment: k.environment,
    protection: k.protection,
  };
}

export function versionView(v: KeyVersionRecord, primaryVersion: number) {
  return {
    version: v.version,
    state: v.state,
    primary: v.version === primaryVersion,
    createdAt: new Date(v.createdAt).toISOString(),
    usageCount: v.usageCount,
    lastUsedAt: iso(v.lastUsedAt),
    destroyedAt: iso(v.destroyedAt),
  };
}
