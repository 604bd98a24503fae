/**
 * Restore checks on a scratch copy (issue 9/10 §3–4; docs/backup.md): `backup verify` with unseal
 * material and `dr drill`. Nothing touches the live store: the backup is restored into a SQLite
 * file in a fresh temp directory, which is deleted afterwards whatever happens.
 *
 * Steps, each timed (a failed step ends the run; the report says which and why):
 *   verify    signature, hashes, decryption with the backup key shares (backup.ts verifyBackup)
 *   restore   into the empty scratch store (one transaction)
 *   ledger    (drill) the restored audit ledger verifies (tree, checkpoint signatures:
 *             src/audit/verify.ts), and its newest checkpoint and event count equal the manifest's
 *   start     (drill) a Keywarden instance starts on the scratch store (composition root, migrations)
 *   unseal    with the ORIGINAL unseal material (shamir shares, or the dev unseal key)
 *   canaries  every key version not destroyed (or a sample per key) passes its canary check
 *             (src/keys/canary.ts); a version without a canary gets a self-test instead (a canary
 *             made and checked now), which fails the run only with `requireCanaries`
 * `recoveryMs` is the time until a restored, unsealed instance exists (verify .. unseal): the
 * recovery time this backup gives; `totalMs` includes the checks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { exportLedger } from '../audit/export.js';
import { verifyLedger } from '../audit/verify.js';
import { randomBytes } from '../crypto/primitives/index.js';
import type { SecretBytes } from '../crypto/secret-bytes.js';
import { checkCanary, makeCanary, openVersion } from '../keys/canary.js';
import type { KeyRecord, KeyVersionRecord } from '../keys/key.model.js';
import { createKeywarden, type Keywarden } from '../main.js';
import type { SealType } from '../seal/seal.model.js';
import { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import type { Store } from '../storage/store.js';
import { systemClock, type Clock } from '../util/clock.js';
import { snapshotOf, verifyBackup, type Manifest, type VerifiedBackup } from './backup.js';

export type StepName = 'verify' | 'restore' | 'ledger' | 'start' | 'unseal' | 'canaries';

export interface RecoveryStep {
  name: StepName;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface VersionResult {
  keyId: string;
  aliases: string[];
  spec: string;
  usage: string;
  version: number;
  state: string;
  result: 'ok' | 'failed' | 'skipped';
  /** false: the version has no recorded canary (checked by a self-test, or failed with requireCanaries). */
  canary: boolean;
  reason?: string;
}

export interface CanarySummary {
  keys: number;
  /** Versions not destroyed (all of them, whether sampled or not). */
  versions: number;
  checked: number;
  passed: number;
  failed: number;
  skipped: number;
  withoutCanary: number;
  results: VersionResult[];
}

export interface LedgerSummary {
  events: number;
  checkpoints: number;
  coveredSize: number;
  newestCheckpoint: { size: number; rootHash: string } | null;
  /** false for a backup written before manifests recorded the ledger (nothing to compare). */
  comparedWithManifest: boolean;
}

export interface RecoveryReport {
  ok: boolean;
  backup: string;
  createdAt?: string;
  schemaVersion?: number;
  source?: string;
  fingerprint?: string;
  sealType?: string;
  steps: RecoveryStep[];
  recoveryMs: number;
  totalMs: number;
  canaries?: CanarySummary;
  ledger?: LedgerSummary;
  /** The failed step's reason. */
  error?: string;
}

export interface RecoveryOptions {
  file: Buffer;
  /** Named in the report. */
  name: string;
  /** Backup key shares (at least the threshold). */
  shares: readonly string[];
  fingerprint?: string;
  /** The unseal shares (shamir) or the dev unseal key (base64), as `operator unseal` takes them. */
  unseal: readonly string[];
  /** Check at most this many versions per key (the primary always among them); all by default. */
  sample?: number;
  requireCanaries?: boolean;
  /** Verify the restored ledger and start an instance (the DR drill); `backup verify` skips both. */
  drill: boolean;
  clock?: Clock;
}

class StepFailed extends Error {}

/** Restores the backup into a scratch store and runs the checks; never throws for a failed check. */
export async function runRecovery(opts: RecoveryOptions): Promise<RecoveryReport> {
  const report: RecoveryReport = { ok: false, backup: opts.name, steps: [], recoveryMs: 0, totalMs: 0 };
  const clock = opts.clock ?? systemClock;
  const dir = await mkdtemp(join(tmpdir(), 'keywarden-scratch-'));
  const path = join(dir, 'keywarden.db');
  let kw: Keywarden | undefined;
  const step = async <T>(name: StepName, run: () => Promise<{ value: T; detail: string }>): Promise<T> => {
    const t0 = performance.now();
    try {
      const { value, detail } = await run();
      report.steps.push({ name, ok: true, ms: Math.round(performance.now() - t0), detail });
      return value;
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      report.steps.push({ name, ok: false, ms: Math.round(performance.now() - t0), detail });
      report.error = `${name}: ${detail}`;
      throw new StepFailed(detail);
    }
  };
  try {
    const verified = await step('verify', async () => {
      const v = await verifyBackup(opts.file, { shares: opts.shares, ...(opts.fingerprint !== undefined && { fingerprint: opts.fingerprint }) });
      const m = v.manifest;
      Object.assign(report, { createdAt: m.createdAt, schemaVersion: m.schemaVersion, source: m.source, fingerprint: m.signing.fingerprint });
      return { value: v as Required<VerifiedBackup>, detail: `signature, ciphertext and ${m.tables.length} table hashes verified` };
    });
    const sealType = await step('restore', async () => {
      const store = new SqliteStore(path);
      try {
        await store.restore(snapshotOf(verified));
        const seal = await store.seal.getSealConfig();
        if (seal === undefined) throw new Error('the backup holds no seal configuration (an uninitialized Keywarden)');
        const rows = verified.manifest.tables.reduce((n, t) => n + t.rows, 0);
        return { value: seal.type, detail: `${rows} rows into a scratch SQLite store` };
      } finally {
        await store.close();
      }
    });
    report.sealType = sealType;
    if (opts.drill) {
      report.ledger = await step('ledger', async () => {
        const store = new SqliteStore(path);
        try {
          const l = await ledgerStep(store, verified.manifest, clock);
          const detail = `${l.events} events and ${l.checkpoints} signed checkpoint${l.checkpoints === 1 ? '' : 's'} verified` +
            (l.comparedWithManifest ? `; the newest checkpoint (size ${l.newestCheckpoint?.size ?? 0}) is the manifest's` : '; the manifest records no checkpoint (an older backup)');
          return { value: l, detail };
        } finally {
          await store.close();
        }
      });
    }
    kw = await step('start', async () => ({
      value: await createKeywarden({ storage: { type: 'sqlite', path }, seal: sealType as SealType, logger: false, clock }),
      detail: opts.drill ? 'a Keywarden instance started on the restored store' : 'the restored store opened',
    }));
    const instance = kw;
    await step('unseal', async () => {
      if (sealType !== 'shamir' && sealType !== 'dev') throw new Error(`the backup's data uses the ${sealType} seal: unseal a restored copy with its HSM on a server (not supported here)`);
      if (opts.unseal.length === 0) throw new Error(`the unseal material is needed (${sealType === 'dev' ? '--dev-key-file' : '--unseal-share'})`);
      for (const s of opts.unseal) if (!(await instance.seal.submitShare(s)).sealed) break;
      const st = instance.seal.status();
      if (st.sealed) throw new Error(`still sealed: ${st.progress} of ${st.threshold} unseal shares given`);
      return { value: undefined, detail: `unsealed with the original ${sealType === 'dev' ? 'dev unseal key' : 'unseal shares'}` };
    });
    report.canaries = await step('canaries', async () => {
      const summary = await checkCanaries(instance.store, instance.seal.rootKey(), { ...(opts.sample !== undefined && { sample: opts.sample }), requireCanaries: opts.requireCanaries === true });
      const detail = `${summary.passed} of ${summary.checked} key versions passed` + (summary.withoutCanary > 0 ? ` (${summary.withoutCanary} without a canary, self-tested)` : '') + (summary.skipped > 0 ? `, ${summary.skipped} skipped` : '');
      if (summary.failed > 0) {
        report.canaries = summary;
        const names = summary.results.filter((r) => r.result === 'failed').map((r) => `key ${r.keyId} version ${r.version}: ${r.reason}`);
        throw new Error(`${summary.failed} key version${summary.failed === 1 ? '' : 's'} failed: ${names.join('; ')}`);
      }
      return { value: summary, detail };
    });
    report.ok = true;
  } catch (e) {
    if (!(e instanceof StepFailed)) throw e;
  } finally {
    await kw?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  // Steps were drill-only ('ledger', 'start') or checks ('canaries'): recovery is verify..unseal.
  const sum = (names: StepName[]) => report.steps.filter((s) => names.includes(s.name)).reduce((n, s) => n + s.ms, 0);
  report.recoveryMs = sum(['verify', 'restore', 'start', 'unseal']);
  report.totalMs = sum(['verify', 'restore', 'ledger', 'start', 'unseal', 'canaries']);
  return report;
}

/** The restored ledger verifies, and its newest checkpoint and size equal what the manifest recorded. */
async function ledgerStep(store: Store, m: Manifest, clock: Clock): Promise<LedgerSummary> {
  const exp = await exportLedger(store.audit, clock.now());
  const result = await verifyLedger(exp);
  if (!result.ok) throw new Error(`the restored audit ledger does not verify: ${result.message}`);
  const newest = exp.checkpoints.reduce<(typeof exp.checkpoints)[number] | undefined>((a, c) => (a === undefined || c.size >= a.size ? c : a), undefined);
  const summary: LedgerSummary = {
    events: exp.events.length,
    checkpoints: result.checkpoints,
    coveredSize: result.coveredSize,
    newestCheckpoint: newest ? { size: newest.size, rootHash: newest.rootHash } : null,
    comparedWithManifest: m.ledger !== undefined,
  };
  if (m.ledger === undefined) return summary;
  if (m.ledger.events !== exp.events.length) throw new Error(`the restored ledger has ${exp.events.length} events, the manifest ${m.ledger.events}`);
  const want = m.ledger.checkpoint;
  const same = want === null ? newest === undefined : newest !== undefined && newest.size === want.size && newest.rootHash === want.rootHash && newest.time === want.time && newest.keyId === want.keyId;
  if (!same) {
    throw new Error(`the restored ledger's newest checkpoint (${newest ? `size ${newest.size}` : 'none'}) is not the manifest's (${want ? `size ${want.size}` : 'none'})`);
  }
  return summary;
}

/** At most `n` of `versions` (a random choice, always with the primary), by version. */
function sampleOf(versions: KeyVersionRecord[], primary: number, n: number | undefined): KeyVersionRecord[] {
  if (n === undefined || versions.length <= n) return versions;
  const rest = versions.filter((v) => v.version !== primary);
  const picked = versions.filter((v) => v.version === primary);
  while (picked.length < n && rest.length > 0) picked.push(rest.splice(randomBytes(4).readUInt32BE() % rest.length, 1)[0]!);
  return picked.sort((a, b) => a.version - b.version);
}

/** Checks the canary of every (sampled) key version not destroyed with the unwrapped material. */
export async function checkCanaries(store: Store, rootKey: SecretBytes, opts: { sample?: number; requireCanaries?: boolean } = {}): Promise<CanarySummary> {
  const s: CanarySummary = { keys: 0, versions: 0, checked: 0, passed: 0, failed: 0, skipped: 0, withoutCanary: 0, results: [] };
  let after: { createdAt: number; id: string } | undefined;
  for (;;) {
    const page: KeyRecord[] = await store.keys.listKeys({ limit: 100, ...(after && { after }) });
    if (page.length === 0) return s;
    for (const key of page) {
      after = { createdAt: key.createdAt, id: key.id };
      s.keys++;
      const live = (await store.keys.listVersions(key.id)).filter((v) => v.state !== 'Destroyed');
      s.versions += live.length;
      for (const v of sampleOf(live, key.primaryVersion, opts.sample)) {
        const r = await checkVersion(store, rootKey, key, v, opts.requireCanaries === true);
        s.results.push(r);
        if (r.result === 'skipped') {
          s.skipped++;
          continue;
        }
        s.checked++;
        if (!r.canary) s.withoutCanary++;
        if (r.result === 'ok') s.passed++;
        else s.failed++;
      }
    }
  }
}

async function checkVersion(store: Store, rootKey: SecretBytes, key: KeyRecord, v: KeyVersionRecord, requireCanaries: boolean): Promise<VersionResult> {
  const base = { keyId: key.id, aliases: key.aliases, spec: key.spec, usage: key.usage, version: v.version, state: v.state };
  const canary = await store.canaries.get(key.id, v.version);
  if (v.hsmLabel !== null) return { ...base, result: 'skipped', canary: canary !== undefined, reason: 'held by an HSM: check it on a server with the HSM' };
  if (canary === undefined && requireCanaries) return { ...base, result: 'failed', canary: false, reason: 'no canary was recorded for it' };
  const crypto = openVersion(rootKey, v);
  if (typeof crypto === 'string') return { ...base, result: 'failed', canary: canary !== undefined, reason: crypto };
  try {
    const problem = await checkCanary(key, v, canary ?? (await makeCanary(key, v, crypto, 0)), crypto);
    return problem === undefined ? { ...base, result: 'ok', canary: canary !== undefined } : { ...base, result: 'failed', canary: canary !== undefined, reason: problem };
  } catch (e) {
    return { ...base, result: 'failed', canary: canary !== undefined, reason: (e as Error).message };
  } finally {
    crypto.dispose();
  }
}
