/**
 * Key administration use-cases: create, describe, list, lifecycle, versions, aliases, tags,
 * import/export, unused-key report and purge. Same pipeline as every other use-case.
 */
import { WRAPPING_ALGORITHMS, wrapForExport, type WrappingAlgorithm } from '../crypto/keyspecs.js';
import { errors, KeywardenError } from '../errors/catalog.js';
import { DAY_MS, DELETION_WINDOW_DAYS, type CreateKeyInput, type KeyService, type UpdateKeyInput } from '../keys/key.service.js';
import type { Classification, Environment } from '../policy/policy.model.js';
import type { KeyRecord, KeyVersionRecord, RevocationReason } from '../keys/key.model.js';
import type { Clock } from '../util/clock.js';
import type { KeyPolicyRecord } from '../auth/key-policy.js';
import type { KeyPolicyService } from '../auth/key-policy.service.js';
import type { Call, Pipeline } from './pipeline.js';
import { LIMITS, requireState } from './ops.js';

export class KeyAdminOps {
  constructor(private readonly d: { pipeline: Pipeline; keys: KeyService; clock: Clock; keyPolicies?: KeyPolicyService }) {}

  /** Authorizes `action` on the named key (roles and grants, without revealing other keys) and returns it. */
  async #key(call: Call, action: Parameters<Pipeline['begin']>[1], keyRef: string): Promise<KeyRecord> {
    return (await this.d.pipeline.beginKey(call, action, keyRef)).key;
  }

  /**
   * Creates a key with its creator (one write): separation of duties bars the creator from using it.
   * The policy fills in a rotation period the scope requires and refuses a key that breaks a rule.
   */
  async createKey(call: Call, input: CreateKeyInput): Promise<KeyRecord> {
    const principal = await this.d.pipeline.begin(call, 'key:create');
    this.d.keys.checkProtection(input);
    const checked = this.d.pipeline.policy?.prepareCreate(call, input) ?? input;
    return this.d.keys.create(checked, principal.id);
  }

  describeKey(call: Call, keyRef: string): Promise<KeyRecord> {
    return this.#key(call, 'key:describe', keyRef);
  }

  async listKeys(call: Call, opts: { limit?: number; cursor?: string; classification?: Classification; environment?: Environment }): Promise<{ keys: KeyRecord[]; nextCursor: string | null }> {
    await this.d.pipeline.begin(call, 'key:list');
    const limit = opts.limit ?? LIMITS.defaultListLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.maxListLimit) {
      throw errors.validation(`limit must be an integer between 1 and ${LIMITS.maxListLimit}`);
    }
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor);
    const scope = { ...(opts.classification !== undefined ? { classification: opts.classification } : {}), ...(opts.environment !== undefined ? { environment: opts.environment } : {}) };
    const keys = await this.d.keys.list(limit + 1, after, scope);
    const page = keys.slice(0, limit);
    const last = page[page.length - 1];
    return { keys: page, nextCursor: keys.length > limit && last ? encodeCursor(last) : null };
  }

  /** A stricter classification or a first environment re-applies the policy (e.g. a shorter rotation period). */
  async update(call: Call, keyRef: string, input: UpdateKeyInput) {
    const key = await this.#key(call, 'key:update', keyRef);
    return this.d.keys.update(key, this.d.pipeline.policy?.prepareUpdate(call, key, input) ?? input);
  }

  async rotate(call: Call, keyRef: string) {
    const key = await this.#key(call, 'key:rotate', keyRef);
    this.d.pipeline.policy?.checkKey(call, key);
    return this.d.keys.rotate(key);
  }

  async enable(call: Call, keyRef: string) {
    return this.d.keys.enable(await this.#key(call, 'key:enable', keyRef));
  }

  async disable(call: Call, keyRef: string) {
    return this.d.keys.disable(await this.#key(call, 'key:disable', keyRef));
  }

  async scheduleDeletion(call: Call, keyRef: string, days?: number) {
    const key = await this.#key(call, 'key:schedule-deletion', keyRef);
    this.d.pipeline.policy?.checkDeletionWindow(call, key, days ?? DELETION_WINDOW_DAYS.default);
    return this.d.keys.scheduleDeletion(key, days);
  }

  async cancelDeletion(call: Call, keyRef: string) {
    return this.d.keys.cancelDeletion(await this.#key(call, 'key:cancel-deletion', keyRef));
  }

  async revoke(call: Call, keyRef: string, reason: RevocationReason, compromisedAt?: number) {
    return this.d.keys.revoke(await this.#key(call, 'key:revoke', keyRef), reason, compromisedAt);
  }

  async versions(call: Call, keyRef: string): Promise<{ key: KeyRecord; versions: KeyVersionRecord[] }> {
    const key = await this.#key(call, 'key:versions', keyRef);
    return { key, versions: await this.d.keys.versions(key) };
  }

  async setVersionState(call: Call, keyRef: string, version: number, action: 'enable' | 'disable' | 'destroy') {
    const key = await this.#key(call, 'key:versions', keyRef);
    return { key, version: await this.d.keys.setVersionState(key, version, action) };
  }

  async tag(call: Call, keyRef: string, tags: Record<string, string>) {
    return this.d.keys.tag(await this.#key(call, 'key:tag', keyRef), tags);
  }

  async untag(call: Call, keyRef: string, tagKeys: string[]) {
    return this.d.keys.untag(await this.#key(call, 'key:tag', keyRef), tagKeys);
  }

  async createAlias(call: Call, alias: string, keyRef: string) {
    const key = await this.#key(call, 'key:alias', keyRef);
    await this.d.keys.createAlias(alias, key);
    return { alias, keyId: key.id };
  }

  async updateAlias(call: Call, alias: string, keyRef: string) {
    const key = await this.#key(call, 'key:alias', keyRef);
    await this.d.keys.updateAlias(alias, key);
    return { alias, keyId: key.id };
  }

  async deleteAlias(call: Call, alias: string) {
    await this.d.pipeline.begin(call, 'key:alias');
    await this.d.keys.deleteAlias(alias);
    return { deleted: alias };
  }

  async listAliases(call: Call) {
    await this.d.pipeline.begin(call, 'key:list');
    return this.d.keys.listAliases();
  }

  async importParameters(call: Call, keyRef: string, wrappingAlgorithm: string = 'RSAES_OAEP_SHA_256') {
    if (!(WRAPPING_ALGORITHMS as readonly string[]).includes(wrappingAlgorithm)) {
      throw errors.validation(`wrappingAlgorithm must be one of ${WRAPPING_ALGORITHMS.join(', ')}`);
    }
    const key = await this.#key(call, 'key:import', keyRef);
    return { ...(await this.d.keys.importParameters(key, wrappingAlgorithm as WrappingAlgorithm)), wrappingAlgorithm, keyId: key.id };
  }

  async importMaterial(call: Call, keyRef: string, importToken: string, encryptedMaterial: Buffer, validTo?: number) {
    const key = await this.#key(call, 'key:import', keyRef);
    this.d.pipeline.policy?.checkKey(call, key);
    return this.d.keys.importMaterial(key, importToken, encryptedMaterial, validTo);
  }

  /** The key's AWS key policy (undefined: none was put), with the key. */
  async getKeyPolicy(call: Call, keyRef: string): Promise<{ key: KeyRecord; policy: KeyPolicyRecord | undefined }> {
    const key = await this.#key(call, 'key:describe', keyRef);
    return { key, policy: await this.#keyPolicies().get(key.id) };
  }

  /** Puts the key's AWS key policy (validated; its Deny statements are enforced from now on). */
  async putKeyPolicy(call: Call, keyRef: string, document: string): Promise<KeyPolicyRecord> {
    const { principal, key } = await this.d.pipeline.beginKey(call, 'key:update', keyRef);
    return this.#keyPolicies().put(key.id, document, principal);
  }

  #keyPolicies(): KeyPolicyService {
    if (this.d.keyPolicies === undefined) throw errors.internal();
    return this.d.keyPolicies;
  }

  /** Destroys the imported material of an EXTERNAL key (every version); the key becomes PendingImport. */
  async deleteImportedMaterial(call: Call, keyRef: string) {
    return this.d.keys.deleteImportedMaterial(await this.#key(call, 'key:import', keyRef));
  }

  /** Export of an `exportable` key's primary material, only wrapped under the caller's RSA public key. */
  async exportKey(call: Call, keyRef: string, publicKeySpki: Buffer) {
    const key = await this.#key(call, 'key:export', keyRef);
    if (!key.exportable) throw new KeywardenError('InvalidKeyUsage', `key ${key.id} was not created exportable: its material never leaves Keywarden`);
    requireState(key, 'encrypt');
    const h = await this.d.keys.handle(key.id, key.primaryVersion);
    if (h === undefined) throw errors.internal();
    // An HSM key is never exportable (refused at creation); its material never leaves the HSM.
    if (h.crypto.material === undefined) throw errors.validation(`key ${key.id} is protected by an HSM: its material cannot be exported`);
    const wrapped = wrapForExport(publicKeySpki, h.crypto.material);
    return { wrappedMaterial: wrapped.wrapped, wrappingAlgorithm: wrapped.algorithm, keyId: key.id, keyVersion: h.version };
  }

  async unusedKeys(call: Call, unusedForDays: number) {
    await this.d.pipeline.begin(call, 'key:report');
    return this.d.keys.unused(this.d.clock.now() - checkDays(unusedForDays) * DAY_MS);
  }

  /** Schedules deletion (respecting the pending window) of every key the unused report lists. */
  async purgeUnused(call: Call, unusedForDays: number, windowDays: number = DELETION_WINDOW_DAYS.default) {
    await this.d.pipeline.begin(call, 'key:purge');
    const keys = await this.d.keys.unused(this.d.clock.now() - checkDays(unusedForDays) * DAY_MS);
    // Every key's minimum window is checked before any deletion is scheduled (all or nothing).
    for (const k of keys) this.d.pipeline.policy?.checkDeletionWindow(call, k, windowDays);
    const scheduled: KeyRecord[] = [];
    for (const k of keys) scheduled.push(await this.d.keys.scheduleDeletion(k, windowDays));
    return scheduled;
  }
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw errors.validation('unusedForDays must be a whole number of days between 1 and 36500');
  return days;
}

function encodeCursor(k: KeyRecord): string {
  return Buffer.from(JSON.stringify([k.createdAt, k.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isInteger(v[0]) && typeof v[1] === 'string') {
      return { createdAt: v[0] as number, id: v[1] };
    }
  } catch {
    // fall through
  }
  throw errors.validation('cursor is not a cursor returned by this API');
}
