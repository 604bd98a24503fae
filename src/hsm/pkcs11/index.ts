/**
 * The PKCS#11 HSM adapter: the only place (with its own files) that imports the binding.
 * openPkcs11Hsm connects at once (throws HsmUnavailable when it cannot); createPkcs11Hsm returns an
 * adapter that connects on first use and reconnects by itself (the server uses it, so that it
 * starts, sealed, while the HSM is down).
 */
import type { Hsm } from '../hsm.js';
import { Pkcs11Hsm, type Pkcs11Config } from './pkcs11-hsm.js';

export { Pkcs11Hsm, type Pkcs11Config, type Pkcs11Stats } from './pkcs11-hsm.js';

export function createPkcs11Hsm(config: Pkcs11Config): Pkcs11Hsm {
  return new Pkcs11Hsm(config);
}

export async function openPkcs11Hsm(config: Pkcs11Config): Promise<Hsm> {
  const hsm = new Pkcs11Hsm(config);
  try {
    await hsm.connect();
  } catch (e) {
    await hsm.close();
    throw e;
  }
  return hsm;
}
