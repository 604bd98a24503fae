/**
 * One loaded PKCS#11 module per library path in this process. A PKCS#11 library is initialised
 * once per process (a second C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED), so every
 * Pkcs11Hsm on the same library shares one Pkcs11Module and counts references to it. Re-initialising
 * (C_Finalize + C_Initialize, e.g. SoftHSM2 re-reading its token directory) bumps `generation`:
 * every session opened before is gone, and each Pkcs11Hsm reconnects when it sees the change.
 */
import pkcs11js from 'pkcs11js';
import { KeywardenError } from '../../errors/catalog.js';

export type Pkcs11Lib = InstanceType<typeof pkcs11js.PKCS11>;
export { pkcs11js };

export interface Pkcs11Module {
  readonly library: string;
  readonly lib: Pkcs11Lib;
  generation: number;
  refs: number;
}

const modules = new Map<string, Pkcs11Module>();

// CKF_OS_LOCKING_OK: calls run on libuv's thread pool (the *Async functions), so the module must lock.
function initialize(lib: Pkcs11Lib): void {
  try {
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if ((e as Error).message !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw e;
  }
}

/** Loads (once) and initialises the module at `library`; throws HsmUnavailable when it cannot. */
export function acquireModule(library: string): Pkcs11Module {
  let m = modules.get(library);
  if (m === undefined) {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(library);
    } catch {
      // The binding's message can carry dlopen details; the path itself is the operator's own config.
      throw new KeywardenError('HsmUnavailable', 'cannot load the PKCS#11 module (hsm.library): check the path and that it is a PKCS#11 library');
    }
    try {
      initialize(lib);
    } catch (e) {
      lib.close();
      throw new KeywardenError('HsmUnavailable', `PKCS#11 C_Initialize failed: ${(e as Error).message}`);
    }
    m = { library, lib, generation: 1, refs: 0 };
    modules.set(library, m);
  }
  m.refs++;
  return m;
}

/** C_Finalize + C_Initialize: drops every session of every user of the module (they reconnect). */
export function reinitializeModule(m: Pkcs11Module): void {
  try {
    m.lib.C_Finalize();
  } catch {
    // Already finalized or the device is gone: initialising again is what matters.
  }
  m.generation++;
  try {
    initialize(m.lib);
  } catch (e) {
    throw new KeywardenError('HsmUnavailable', `PKCS#11 C_Initialize failed: ${(e as Error).message}`);
  }
}

export function releaseModule(m: Pkcs11Module): void {
  if (--m.refs > 0) return;
  modules.delete(m.library);
  try {
    m.lib.C_Finalize();
  } catch {
    // Nothing to release.
  }
  m.lib.close();
}
