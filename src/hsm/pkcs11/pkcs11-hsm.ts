/**
 * The PKCS#11 implementation of Hsm (src/hsm/hsm.ts). The only module, with ./module.ts, that
 * talks to the binding.
 *
 * Connection: the module is loaded by path, the slot is found by token label, a pool of `pool`
 * sessions is opened and the user logs in (CKU_USER; login is per token and application, so one
 * C_Login covers every session). Each session serves one call at a time; callers wait for a free
 * one. When a call fails because the token or the module went away (CKR_DEVICE_REMOVED,
 * CKR_SESSION_HANDLE_INVALID, ...) the connection is dropped and the call retried once on a new
 * one; a token that cannot be found makes the adapter re-initialise the module (SoftHSM2 and many
 * modules only scan their slots in C_Initialize). Nothing here keeps the PIN beyond the config
 * it came from, and no message contains it.
 */
import type { Handle, Template } from 'pkcs11js';
import { KeywardenError } from '../../errors/catalog.js';
import type { Hsm, HsmHealth, HsmKeyKind, HsmKeyRef } from '../hsm.js';
import { CURVE_OIDS, DIGEST_BYTES, DIGEST_INFO_PREFIX, ecSpki, ecdsaRawToDer, rsaSpki } from './der.js';
import { STALE_HANDLE, UNAVAILABLE, ckrOf, mapPkcs11Error } from './errors.js';
import { oaepDecodeSha256 } from './oaep.js';
import { acquireModule, pkcs11js as P, reinitializeModule, releaseModule, type Pkcs11Lib, type Pkcs11Module } from './module.js';

export interface Pkcs11Config {
  /** Path of the PKCS#11 module (shared library). */
  library: string;
  /** CKA label of the token (the slot is found by it). */
  tokenLabel: string;
  /** The user PIN, or: */
  pin?: string;
  /** the name of an environment variable holding the user PIN (preferred: keeps it out of files). */
  pinEnv?: string;
  /** Sessions kept open (concurrent calls); default 4. */
  pool?: number;
}

/** Counters for metrics (issue #11). */
export interface Pkcs11Stats {
  calls: number;
  errors: number;
  latencyMsSum: number;
  reconnects: number;
}

interface Connection {
  module: Pkcs11Module;
  generation: number;
  slot: Handle;
  sessions: Handle[];
  idle: Handle[];
  waiters: Array<(s: Handle | undefined) => void>;
  broken: boolean;
  /** Object handles by class and label (token object handles are valid for the whole application). */
  handles: Map<string, Handle>;
}

class Retry extends Error {}

const HASH_MECH = { sha256: P.CKM_SHA256, sha384: P.CKM_SHA384, sha512: P.CKM_SHA512 } as const;
const MGF = { sha256: P.CKG_MGF1_SHA256, sha384: P.CKG_MGF1_SHA384, sha512: P.CKG_MGF1_SHA512 } as const;
const HMAC_MECH_BY_LEN: Record<number, number> = { 32: P.CKM_SHA256_HMAC, 48: P.CKM_SHA384_HMAC, 64: P.CKM_SHA512_HMAC };
const HMAC_LEN = { sha256: 32, sha384: 48, sha512: 64 } as const;
/** CK_RSA_PKCS_OAEP_SOURCE_TYPE: no label (the binding does not export the constant). */
const CKZ_DATA_SPECIFIED = 1;
/** Largest signature / RSA block we ask for: RSA-4096. */
const MAX_BLOCK = 512;

export class Pkcs11Hsm implements Hsm {
  readonly tokenLabel: string;
  readonly #config: Pkcs11Config;
  readonly #poolSize: number;
  #module: Pkcs11Module | undefined;
  #conn: Connection | undefined;
  #connecting: Promise<Connection> | undefined;
  #closed = false;
  /** Cleared when the module refuses CKM_RSA_PKCS_OAEP with SHA-256 (see rsaOaepDecrypt). */
  #oaepSha256InHsm = true;
  readonly #stats: Pkcs11Stats = { calls: 0, errors: 0, latencyMsSum: 0, reconnects: 0 };

  constructor(config: Pkcs11Config) {
    this.#config = config;
    this.tokenLabel = config.tokenLabel;
    this.#poolSize = config.pool ?? 4;
    if (!Number.isInteger(this.#poolSize) || this.#poolSize < 1 || this.#poolSize > 256) {
      throw new KeywardenError('ValidationError', 'hsm.pool must be an integer between 1 and 256');
    }
  }

  /** Connects now (open sessions, log in); throws HsmUnavailable when the token cannot be used. */
  async connect(): Promise<void> {
    await this.#connection();
  }

  stats(): Pkcs11Stats {
    return { ...this.#stats };
  }

  // ---- keys ----

  async generateKey(label: string, kind: HsmKeyKind): Promise<{ ref: HsmKeyRef; publicSpki?: Buffer }> {
    if (label.length === 0) throw new KeywardenError('ValidationError', 'an HSM key label must not be empty');
    const ref = { label };
    // Token object, sensitive, never extractable: its value cannot leave the HSM.
    const common = (cls: number): Template => [
      { type: P.CKA_CLASS, value: cls },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_LABEL, value: label },
    ];
    const secret = (cls: number): Template => [...common(cls), { type: P.CKA_PRIVATE, value: true }, { type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_EXTRACTABLE, value: false }];
    switch (kind.type) {
      case 'aes':
        await this.#run('C_GenerateKey', (lib, s) =>
          lib.C_GenerateKeyAsync(s, { mechanism: P.CKM_AES_KEY_GEN }, [
            ...secret(P.CKO_SECRET_KEY),
            { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
            { type: P.CKA_VALUE_LEN, value: kind.bits / 8 },
            { type: P.CKA_ENCRYPT, value: true },
            { type: P.CKA_DECRYPT, value: true },
          ]),
        );
        return { ref };
      case 'hmac':
        // A generic secret of the hash's length: hmac() picks the mechanism from CKA_VALUE_LEN.
        await this.#run('C_GenerateKey', (lib, s) =>
          lib.C_GenerateKeyAsync(s, { mechanism: P.CKM_GENERIC_SECRET_KEY_GEN }, [
            ...secret(P.CKO_SECRET_KEY),
            { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
            { type: P.CKA_VALUE_LEN, value: HMAC_LEN[kind.hash] },
            { type: P.CKA_SIGN, value: true },
            { type: P.CKA_VERIFY, value: true },
          ]),
        );
        return { ref };
      case 'rsa': {
        const publicSpki = await this.#run('C_GenerateKeyPair', async (lib, s) => {
          const { publicKey } = await lib.C_GenerateKeyPairAsync(
            s,
            { mechanism: P.CKM_RSA_PKCS_KEY_PAIR_GEN },
            [...common(P.CKO_PUBLIC_KEY), { type: P.CKA_MODULUS_BITS, value: kind.bits }, { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }, { type: P.CKA_VERIFY, value: true }, { type: P.CKA_ENCRYPT, value: true }],
            [...secret(P.CKO_PRIVATE_KEY), { type: P.CKA_SIGN, value: true }, { type: P.CKA_DECRYPT, value: true }],
          );
          const [n, e] = lib.C_GetAttributeValue(s, publicKey, [{ type: P.CKA_MODULUS }, { type: P.CKA_PUBLIC_EXPONENT }]);
          return rsaSpki(n?.value as Buffer, e?.value as Buffer);
        });
        return { ref, publicSpki };
      }
      case 'ec': {
        const publicSpki = await this.#run('C_GenerateKeyPair', async (lib, s) => {
          const { publicKey } = await lib.C_GenerateKeyPairAsync(
            s,
            { mechanism: P.CKM_EC_KEY_PAIR_GEN },
            [...common(P.CKO_PUBLIC_KEY), { type: P.CKA_EC_PARAMS, value: CURVE_OIDS[kind.curve] }, { type: P.CKA_VERIFY, value: true }],
            [...secret(P.CKO_PRIVATE_KEY), { type: P.CKA_SIGN, value: true }],
          );
          const [point] = lib.C_GetAttributeValue(s, publicKey, [{ type: P.CKA_EC_POINT }]);
          return ecSpki(kind.curve, point?.value as Buffer);
        });
        return { ref, publicSpki };
      }
    }
  }

  async exists(ref: HsmKeyRef): Promise<boolean> {
    return this.#run('C_FindObjects', (lib, s) => findAll(lib, s, [{ type: P.CKA_LABEL, value: ref.label }]).length > 0);
  }

  async destroy(ref: HsmKeyRef): Promise<void> {
    await this.#run('C_DestroyObject', (lib, s, conn) => {
      for (const h of findAll(lib, s, [{ type: P.CKA_LABEL, value: ref.label }])) lib.C_DestroyObject(s, h);
      for (const k of conn.handles.keys()) if (k.endsWith(`:${ref.label}`)) conn.handles.delete(k);
    });
  }

  // ---- operations ----

  async aesGcmEncrypt(ref: HsmKeyRef, iv: Buffer, aad: Buffer, plaintext: Buffer): Promise<Buffer> {
    checkIv(iv);
    return this.#run('C_Encrypt', async (lib, s, conn) => {
      lib.C_EncryptInit(s, gcm(iv, aad), this.#key(lib, s, conn, P.CKO_SECRET_KEY, ref));
      return lib.C_EncryptAsync(s, plaintext, Buffer.alloc(plaintext.length + 16));
    });
  }

  async aesGcmDecrypt(ref: HsmKeyRef, iv: Buffer, aad: Buffer, ciphertextAndTag: Buffer): Promise<Buffer | undefined> {
    checkIv(iv);
    if (ciphertextAndTag.length < 16) return undefined;
    return this.#run('C_Decrypt', async (lib, s, conn) => {
      lib.C_DecryptInit(s, gcm(iv, aad), this.#key(lib, s, conn, P.CKO_SECRET_KEY, ref));
      return decryptOrUndefined(lib.C_DecryptAsync(s, ciphertextAndTag, Buffer.alloc(ciphertextAndTag.length)));
    });
  }

  async hmac(ref: HsmKeyRef, data: Buffer): Promise<Buffer> {
    return this.#run('C_Sign', async (lib, s, conn) => {
      const key = this.#key(lib, s, conn, P.CKO_SECRET_KEY, ref);
      const [attr] = lib.C_GetAttributeValue(s, key, [{ type: P.CKA_VALUE_LEN }]);
      const length = (attr?.value as Buffer).readUIntLE(0, Math.min(6, (attr?.value as Buffer).length));
      const mechanism = HMAC_MECH_BY_LEN[length];
      if (mechanism === undefined) throw new KeywardenError('InvalidKeyUsage', `HSM key "${ref.label}" is not an HMAC key`);
      lib.C_SignInit(s, { mechanism }, key);
      return lib.C_SignAsync(s, data, Buffer.alloc(64));
    });
  }

  async signDigest(
    ref: HsmKeyRef,
    scheme: { type: 'ecdsa' } | { type: 'rsa-pkcs1' | 'rsa-pss'; hash: 'sha256' | 'sha384' | 'sha512' },
    digest: Buffer,
  ): Promise<Buffer> {
    if (scheme.type !== 'ecdsa' && digest.length !== DIGEST_BYTES[scheme.hash]) {
      throw new KeywardenError('ValidationError', `a ${scheme.hash} digest is ${DIGEST_BYTES[scheme.hash]} bytes`);
    }
    return this.#run('C_Sign', async (lib, s, conn) => {
      const key = this.#key(lib, s, conn, P.CKO_PRIVATE_KEY, ref);
      if (scheme.type === 'ecdsa') {
        lib.C_SignInit(s, { mechanism: P.CKM_ECDSA }, key);
        return ecdsaRawToDer(await lib.C_SignAsync(s, digest, Buffer.alloc(MAX_BLOCK)));
      }
      if (scheme.type === 'rsa-pkcs1') {
        lib.C_SignInit(s, { mechanism: P.CKM_RSA_PKCS }, key);
        return lib.C_SignAsync(s, Buffer.concat([DIGEST_INFO_PREFIX[scheme.hash], digest]), Buffer.alloc(MAX_BLOCK));
      }
      const parameter = { type: P.CK_PARAMS_RSA_PSS, hashAlg: HASH_MECH[scheme.hash], mgf: MGF[scheme.hash], saltLen: DIGEST_BYTES[scheme.hash] };
      lib.C_SignInit(s, { mechanism: P.CKM_RSA_PKCS_PSS, parameter }, key);
      return lib.C_SignAsync(s, digest, Buffer.alloc(MAX_BLOCK));
    });
  }

  async rsaOaepDecrypt(ref: HsmKeyRef, ciphertext: Buffer): Promise<Buffer | undefined> {
    return this.#run('C_Decrypt', async (lib, s, conn) => {
      const key = this.#key(lib, s, conn, P.CKO_PRIVATE_KEY, ref);
      if (this.#oaepSha256InHsm) {
        const parameter = { type: P.CK_PARAMS_RSA_OAEP, hashAlg: P.CKM_SHA256, mgf: P.CKG_MGF1_SHA256, source: CKZ_DATA_SPECIFIED };
        try {
          lib.C_DecryptInit(s, { mechanism: P.CKM_RSA_PKCS_OAEP, parameter }, key);
        } catch (e) {
          if (!['CKR_ARGUMENTS_BAD', 'CKR_MECHANISM_PARAM_INVALID'].includes(ckrOf(e) ?? '')) throw e;
          // SoftHSM2 2.6 offers OAEP with SHA-1 only: raw RSA in the HSM, OAEP decoding here.
          this.#oaepSha256InHsm = false;
        }
        if (this.#oaepSha256InHsm) return decryptOrUndefined(lib.C_DecryptAsync(s, ciphertext, Buffer.alloc(MAX_BLOCK)));
      }
      const [modulus] = lib.C_GetAttributeValue(s, key, [{ type: P.CKA_MODULUS }]);
      const k = (modulus?.value as Buffer).length;
      if (ciphertext.length !== k) return undefined;
      lib.C_DecryptInit(s, { mechanism: P.CKM_RSA_X_509 }, key);
      const em = await decryptOrUndefined(lib.C_DecryptAsync(s, ciphertext, Buffer.alloc(MAX_BLOCK)));
      if (em === undefined) return undefined;
      try {
        return oaepDecodeSha256(em, k);
      } finally {
        em.fill(0);
      }
    });
  }

  async random(bytes: number): Promise<Buffer> {
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > 65536) throw new KeywardenError('ValidationError', 'random bytes must be between 0 and 65536');
    if (bytes === 0) return Buffer.alloc(0);
    return this.#run('C_GenerateRandom', (lib, s) => Buffer.from(lib.C_GenerateRandom(s, Buffer.alloc(bytes))));
  }

  async health(): Promise<HsmHealth> {
    const started = performance.now();
    try {
      await this.random(4);
      return { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100, tokenLabel: this.tokenLabel };
    } catch (e) {
      return { ok: false, latencyMs: null, error: e instanceof KeywardenError ? e.message : 'unknown error', tokenLabel: this.tokenLabel };
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#connecting?.catch(() => undefined);
    if (this.#conn) this.#drop(this.#conn);
    if (this.#module) releaseModule(this.#module);
    this.#module = undefined;
  }

  // ---- connection and session pool ----

  async #run<T>(fn: string, op: (lib: Pkcs11Lib, session: Handle, conn: Connection) => T | Promise<T>): Promise<T> {
    const started = performance.now();
    this.#stats.calls++;
    try {
      for (let attempt = 0; ; attempt++) {
        const conn = await this.#connection();
        const session = await this.#acquire(conn);
        if (session === undefined) continue; // the connection broke while we waited: take the new one
        try {
          return await op(conn.module.lib, session, conn);
        } catch (e) {
          const ckr = ckrOf(e);
          if (attempt < 2 && ckr !== undefined && (UNAVAILABLE.has(ckr) || STALE_HANDLE.has(ckr))) {
            if (UNAVAILABLE.has(ckr)) this.#drop(conn);
            else conn.handles.clear();
            continue;
          }
          throw e instanceof Retry ? new KeywardenError('HsmUnavailable', `PKCS#11 ${fn} failed: the connection was lost`) : mapPkcs11Error(fn, e);
        } finally {
          this.#release(conn, session);
        }
      }
    } catch (e) {
      this.#stats.errors++;
      throw mapPkcs11Error(fn, e);
    } finally {
      this.#stats.latencyMsSum += performance.now() - started;
    }
  }

  #acquire(conn: Connection): Promise<Handle | undefined> | Handle | undefined {
    if (conn.broken) return undefined;
    const s = conn.idle.pop();
    if (s !== undefined) return s;
    return new Promise((resolve) => conn.waiters.push(resolve));
  }

  #release(conn: Connection, session: Handle): void {
    if (conn.broken) return;
    const next = conn.waiters.shift();
    if (next) next(session);
    else conn.idle.push(session);
  }

  #drop(conn: Connection): void {
    if (conn.broken) return;
    conn.broken = true;
    if (this.#conn === conn) this.#conn = undefined;
    for (const w of conn.waiters.splice(0)) w(undefined);
    if (conn.generation === conn.module.generation) {
      for (const s of conn.sessions) {
        try {
          conn.module.lib.C_CloseSession(s);
        } catch {
          // The session is gone with the token already.
        }
      }
    }
  }

  async #connection(): Promise<Connection> {
    if (this.#closed) throw new KeywardenError('HsmUnavailable', 'the HSM connection is closed');
    const c = this.#conn;
    if (c && !c.broken && c.generation === c.module.generation) return c;
    if (c) this.#drop(c);
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<Connection> {
    this.#module ??= acquireModule(this.#config.library);
    const m = this.#module;
    const pin = this.#pin();
    let slot = findSlot(m.lib, this.tokenLabel);
    if (slot === undefined) {
      // The module may have been initialised before the token appeared (or came back): rescan.
      reinitializeModule(m);
      slot = findSlot(m.lib, this.tokenLabel);
    }
    if (slot === undefined) throw new KeywardenError('HsmUnavailable', `the HSM token "${this.tokenLabel}" was not found (is the token present and its label right?)`);
    const sessions: Handle[] = [];
    try {
      for (let i = 0; i < this.#poolSize; i++) sessions.push(call('C_OpenSession', () => m.lib.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION)));
      try {
        m.lib.C_Login(sessions[0] as Handle, P.CKU_USER, pin);
      } catch (e) {
        const ckr = ckrOf(e);
        if (ckr !== 'CKR_USER_ALREADY_LOGGED_IN') {
          const why = ckr === 'CKR_PIN_INCORRECT' ? ' (wrong PIN)' : ckr === 'CKR_PIN_LOCKED' ? ' (the PIN is locked)' : '';
          throw new KeywardenError('HsmUnavailable', `PKCS#11 C_Login to token "${this.tokenLabel}" failed: ${ckr ?? 'error'}${why}`, { function: 'C_Login', ckr });
        }
      }
    } catch (e) {
      for (const s of sessions) {
        try {
          m.lib.C_CloseSession(s);
        } catch {
          // Best effort.
        }
      }
      throw mapPkcs11Error('C_OpenSession', e);
    }
    if (this.#conn !== undefined || this.#stats.calls > 0) this.#stats.reconnects++;
    const conn: Connection = { module: m, generation: m.generation, slot, sessions, idle: [...sessions], waiters: [], broken: false, handles: new Map() };
    this.#conn = conn;
    return conn;
  }

  #pin(): string {
    const { pin, pinEnv } = this.#config;
    if (pin !== undefined && pin !== '') return pin;
    if (pinEnv !== undefined) {
      const v = process.env[pinEnv];
      if (v !== undefined && v !== '') return v;
      throw new KeywardenError('HsmUnavailable', `the HSM PIN environment variable ${pinEnv} is not set`);
    }
    throw new KeywardenError('HsmUnavailable', 'no HSM PIN configured: set hsm.pin or hsm.pinEnv');
  }

  #key(lib: Pkcs11Lib, session: Handle, conn: Connection, cls: number, ref: HsmKeyRef): Handle {
    const cacheKey = `${cls}:${ref.label}`;
    const cached = conn.handles.get(cacheKey);
    if (cached) return cached;
    const [h] = findAll(lib, session, [{ type: P.CKA_CLASS, value: cls }, { type: P.CKA_LABEL, value: ref.label }], 1);
    if (h === undefined) throw new KeywardenError('NotFound', `the HSM key "${ref.label}" was not found on token "${this.tokenLabel}"`);
    conn.handles.set(cacheKey, h);
    return h;
  }
}

function call<T>(fn: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw mapPkcs11Error(fn, e);
  }
}

function findSlot(lib: Pkcs11Lib, label: string): Handle | undefined {
  const slots = call('C_GetSlotList', () => lib.C_GetSlotList(true));
  return slots.find((s) => {
    try {
      return lib.C_GetTokenInfo(s).label.trimEnd() === label;
    } catch {
      return false;
    }
  });
}

function findAll(lib: Pkcs11Lib, session: Handle, template: Template, max = 64): Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    return lib.C_FindObjects(session, max);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

/**
 * A decryption whose input does not check is not an error: undefined. SoftHSM2 reports a failed
 * GCM tag as CKR_GENERAL_ERROR; the standard says CKR_ENCRYPTED_DATA_INVALID.
 */
async function decryptOrUndefined(p: Promise<Buffer>): Promise<Buffer | undefined> {
  try {
    return await p;
  } catch (e) {
    if (['CKR_GENERAL_ERROR', 'CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE'].includes(ckrOf(e) ?? '')) return undefined;
    throw e;
  }
}

function gcm(iv: Buffer, aad: Buffer) {
  return { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_AES_GCM, iv, aad, ivBits: 96, tagBits: 128 } };
}

function checkIv(iv: Buffer): void {
  if (iv.length !== 12) throw new KeywardenError('ValidationError', 'an AES-GCM IV is 12 bytes');
}
