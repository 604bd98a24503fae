/**
 * AWS access-key use-cases (issue 8 §1): a principal manages its own access keys
 * (principal:self); another principal's need principal:manage (listing them principal:read);
 * only the root identity itself may give root one. Same pipeline as every other use-case.
 */
import type { AccessKeyRecord } from '../auth/access-key.model.js';
import type { AccessKeyService, AccessKeyView } from '../auth/access-key.service.js';
import { permissionDenied } from '../auth/authorize.js';
import { errors } from '../errors/catalog.js';
import type { Call, Pipeline } from './pipeline.js';

export class AccessKeyOps {
  constructor(private readonly d: { pipeline: Pipeline; accessKeys: AccessKeyService }) {}

  async create(call: Call, principalName: string): Promise<{ accessKeyId: string; secretAccessKey: string; view: AccessKeyView }> {
    const caller = await this.d.pipeline.begin(call, 'principal:self');
    const target = await this.d.accessKeys.target(principalName);
    if (target.kind === 'root' && caller.kind !== 'root') {
      throw permissionDenied(caller, 'principal:manage', 'only the root identity may give root an access key');
    }
    if (target.id !== caller.id) await this.d.pipeline.begin(call, 'principal:manage');
    return this.d.accessKeys.create(caller, target);
  }

  /** The caller's keys, or (principal:read) one principal's or everyone's. */
  async list(call: Call, principalName?: string): Promise<AccessKeyView[]> {
    const caller = await this.d.pipeline.begin(call, 'principal:self');
    let owner: string | undefined = caller.id;
    if (principalName !== undefined || caller.kind === 'root') {
      owner = principalName === undefined ? undefined : (await this.d.accessKeys.target(principalName)).id;
      if (owner !== caller.id) await this.d.pipeline.begin(call, 'principal:read');
    }
    return Promise.all((await this.d.accessKeys.list(owner)).map((k) => this.d.accessKeys.view(k)));
  }

  async setStatus(call: Call, accessKeyId: string, status: 'Active' | 'Inactive'): Promise<AccessKeyView> {
    const k = await this.#owned(call, accessKeyId);
    return this.d.accessKeys.view(await this.d.accessKeys.setStatus(k, status));
  }

  async delete(call: Call, accessKeyId: string): Promise<{ deleted: string }> {
    await this.d.accessKeys.delete(await this.#owned(call, accessKeyId));
    return { deleted: accessKeyId };
  }

  /**
   * The access key, when the caller owns it or holds principal:manage. A caller without
   * principal:manage gets the same NotFound for another's key as for none, so ids do not leak.
   */
  async #owned(call: Call, accessKeyId: string): Promise<AccessKeyRecord> {
    const caller = await this.d.pipeline.begin(call, 'principal:self');
    const k = await this.d.accessKeys.find(accessKeyId);
    if (k === undefined || k.principalId !== caller.id) await this.d.pipeline.begin(call, 'principal:manage');
    if (k === undefined) throw errors.notFound(`access key ${accessKeyId.slice(0, 128)}`);
    return k;
  }
}
