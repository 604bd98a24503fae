/**
 * AWS identity of Keywarden keys: key and alias ARNs in the configured region and account, and
 * the key references AWS callers send (key id, key ARN, alias name, alias ARN).
 */
import { errors } from '../../errors/catalog.js';

export interface AwsSettings {
  /** Region of the ARNs Keywarden returns; accepted in SigV4 credential scopes. */
  region: string;
  /** 12-digit account of the ARNs. */
  accountId: string;
  /** Further regions accepted in credential scopes and ARNs. */
  additionalRegions?: string[];
}

export const DEFAULT_AWS: AwsSettings = { region: 'us-east-1', accountId: '000000000000' };

export const acceptedRegions = (s: AwsSettings): string[] => [s.region, ...(s.additionalRegions ?? [])];

export class Arns {
  readonly #regions: ReadonlySet<string>;

  constructor(private readonly s: AwsSettings) {
    this.#regions = new Set(acceptedRegions(s));
  }

  key(id: string): string {
    return `arn:aws:kms:${this.s.region}:${this.s.accountId}:key/${id}`;
  }

  alias(name: string): string {
    return `arn:aws:kms:${this.s.region}:${this.s.accountId}:${name}`;
  }

  /**
   * The key reference Keywarden's ops understand (key id or alias/...), from any AWS form. An ARN
   * of another account or region names no key here (NotFoundException, as AWS).
   */
  keyRef(v: string): string {
    if (!v.startsWith('arn:')) return v;
    const m = /^arn:aws:kms:([^:]+):(\d{12}):((?:key|alias)\/.+)$/.exec(v);
    if (m === null || !this.#regions.has(m[1] as string) || m[2] !== this.s.accountId) throw errors.notFound(`key "${v.slice(0, 300)}"`);
    const res = m[3] as string;
    return res.startsWith('key/') ? res.slice(4) : res;
  }

  /** An alias name from an alias name or alias ARN. */
  aliasName(v: string): string {
    const ref = this.keyRef(v);
    if (!ref.startsWith('alias/')) throw errors.validation(`"${v.slice(0, 300)}" is not an alias name (alias/...) or alias ARN`);
    return ref;
  }
}
