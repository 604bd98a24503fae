import type { FastifyInstance } from 'fastify';
import { errors } from '../../../errors/catalog.js';
import { zeroize } from '../../../crypto/secret-bytes.js';
import type { BatchResult } from '../../../ops/ops.js';
import type { HttpDeps } from '../server.js';
import * as S from '../schemas.js';
import { b64, call, decodeBase64 } from '../wire.js';

const tags = ['crypto'];
type KeyParams = { keyRef: string };

function sendBatch<T>(results: BatchResult<T>, encode: (ok: T) => Record<string, unknown>) {
  return { items: results.map((r) => ('ok' in r ? { ref: r.ref, ...encode(r.ok) } : { ref: r.ref, error: r.error })) };
}

const encoded = (r: { ciphertext: Buffer; keyId: string; keyVersion: number }) => ({ ciphertext: b64(r.ciphertext), keyId: r.keyId, keyVersion: r.keyVersion });
const decoded = (r: { plaintext: Buffer; keyId: string; keyVersion: number }) => ({ plaintext: b64(r.plaintext), keyId: r.keyId, keyVersion: r.keyVersion });

export function registerCryptoRoutes(app: FastifyInstance, { ops }: HttpDeps): void {
  const keyRoute = (body: object, response: object) => ({ schema: { tags, params: S.KeyRefParams, body, response: S.withErrors({ 200: response as never }) } });

  app.post('/v1/keys/:keyRef/encrypt', keyRoute(S.EncryptBody, S.EncryptOut), async (req) => {
    const { keyRef } = req.params as KeyParams;
    const b = req.body as S.EncryptBodyT;
    if (b.items !== undefined) {
      if (b.plaintext !== undefined || b.context !== undefined || b.algorithm !== undefined) throw errors.validation('send either plaintext (with context) or items, not both');
      const items = b.items.map((it, i) => ({
        ref: it.ref ?? String(i),
        plaintext: decodeBase64(`items.${i}.plaintext`, it.plaintext),
        ...(it.context ? { context: it.context } : {}),
      }));
      return sendBatch(await ops.encryptBatch(call(req), keyRef, items), encoded);
    }
    if (b.plaintext === undefined) throw errors.validation('body must contain "plaintext" (or "items" for a batch)');
    return encoded(await ops.encrypt(call(req), keyRef, decodeBase64('plaintext', b.plaintext), b.context, b.algorithm));
  });

  app.post('/v1/decrypt', { schema: { tags, body: S.DecryptBody, response: S.withErrors({ 200: S.DecryptOut }) } }, async (req) => {
    const b = req.body as S.DecryptBodyT;
    if (b.items !== undefined) {
      if (b.ciphertext !== undefined || b.context !== undefined || b.key !== undefined) throw errors.validation('send either ciphertext (with context) or items, not both');
      const items = b.items.map((it, i) => ({
        ref: it.ref ?? String(i),
        ciphertext: decodeBase64(`items.${i}.ciphertext`, it.ciphertext),
        ...(it.context ? { context: it.context } : {}),
      }));
      return sendBatch(await ops.decryptBatch(call(req), items), decoded);
    }
    if (b.ciphertext === undefined) throw errors.validation('body must contain "ciphertext" (or "items" for a batch)');
    if ((b.key === undefined) !== (b.algorithm === undefined)) throw errors.validation('key and algorithm go together (RSA ciphertexts only)');
    const asymmetric = b.key !== undefined && b.algorithm !== undefined ? { key: b.key, algorithm: b.algorithm, ...(b.keyVersion ? { keyVersion: b.keyVersion } : {}) } : undefined;
    return decoded(await ops.decrypt(call(req), decodeBase64('ciphertext', b.ciphertext), b.context, asymmetric));
  });

  app.post('/v1/keys/:keyRef/data-key', keyRoute(S.DataKeyBody, S.DataKeyOut), async (req) => {
    const r = await ops.generateDataKey(call(req), (req.params as KeyParams).keyRef, (req.body ?? {}) as S.DataKeyBodyT);
    return { ...(r.plaintext ? { plaintext: b64(r.plaintext) } : {}), ...encoded(r) };
  });

  app.post('/v1/keys/:keyRef/data-key-pair', keyRoute(S.DataKeyPairBody, S.DataKeyPairOut), async (req) => {
    const b = req.body as { keyPairSpec: string; includePlaintext?: boolean; context?: Record<string, string> };
    const r = await ops.generateDataKeyPair(call(req), (req.params as KeyParams).keyRef, b.keyPairSpec, b.context, b.includePlaintext !== false);
    try {
      return { publicKey: b64(r.publicKey), ...(r.privateKey ? { privateKey: b64(r.privateKey) } : {}), keyPairSpec: r.pairSpec, ...encoded(r) };
    } finally {
      zeroize(r.privateKey);
    }
  });

  app.post('/v1/re-encrypt', { schema: { tags, body: S.ReEncryptBody, response: S.withErrors({ 200: S.ReEncryptOut }) } }, async (req) => {
    const b = req.body as S.ReEncryptBodyT;
    const r = await ops.reEncrypt(call(req), {
      ciphertext: decodeBase64('ciphertext', b.ciphertext),
      destinationKey: b.destinationKey,
      ...(b.context ? { context: b.context } : {}),
      ...(b.destinationContext ? { destinationContext: b.destinationContext } : {}),
    });
    return { ...encoded(r), sourceKeyId: r.sourceKeyId, sourceKeyVersion: r.sourceKeyVersion };
  });

  app.post('/v1/keys/:keyRef/re-wrap', keyRoute(S.ReWrapBody, S.ReWrapOut), async (req) => {
    const b = req.body as { ciphertext: string; context?: Record<string, string> };
    const r = await ops.reWrap(call(req), (req.params as KeyParams).keyRef, decodeBase64('ciphertext', b.ciphertext), b.context);
    return { ...encoded(r), previousKeyVersion: r.previousKeyVersion };
  });

  app.post('/v1/random', { schema: { tags, body: S.RandomBody, response: S.withErrors({ 200: S.RandomOut }) } }, async (req) => ({
    random: b64(await ops.random(call(req), (req.body as { bytes: number }).bytes)),
  }));

  app.post('/v1/keys/:keyRef/sign', keyRoute(S.SignBody, S.SignOut), async (req) => {
    const b = req.body as { message: string; messageType?: 'RAW' | 'DIGEST'; algorithm: string };
    const r = await ops.sign(call(req), (req.params as KeyParams).keyRef, decodeBase64('message', b.message), b.algorithm, b.messageType);
    return { ...r, signature: b64(r.signature) };
  });
  app.post('/v1/keys/:keyRef/verify', keyRoute(S.VerifyBody, S.ValidOut), async (req) => {
    const b = req.body as { message: string; messageType?: 'RAW' | 'DIGEST'; algorithm: string; signature: string; keyVersion?: number };
    return ops.verify(call(req), (req.params as KeyParams).keyRef, decodeBase64('message', b.message), b.algorithm, decodeBase64('signature', b.signature), b.messageType, b.keyVersion);
  });
  app.get('/v1/keys/:keyRef/public-key', { schema: { tags, params: S.KeyRefParams, querystring: S.PublicKeyQuery, response: S.withErrors({ 200: S.PublicKeyOut }) } }, async (req) => {
    const v = (req.query as { version?: string }).version;
    const r = await ops.publicKey(call(req), (req.params as KeyParams).keyRef, v === undefined ? undefined : Number(v));
    return { ...r, publicKey: b64(r.publicKey) };
  });
  app.post('/v1/keys/:keyRef/mac', keyRoute(S.MacBody, S.MacOut), async (req) => {
    const b = req.body as { message: string; algorithm: string };
    const r = await ops.mac(call(req), (req.params as KeyParams).keyRef, decodeBase64('message', b.message), b.algorithm);
    return { ...r, mac: b64(r.mac) };
  });
  app.post('/v1/keys/:keyRef/verify-mac', keyRoute(S.VerifyMacBody, S.ValidOut), async (req) => {
    const b = req.body as { message: string; algorithm: string; mac: string; keyVersion?: number };
    return ops.verifyMac(call(req), (req.params as KeyParams).keyRef, decodeBase64('message', b.message), b.algorithm, decodeBase64('mac', b.mac), b.keyVersion);
  });
}
