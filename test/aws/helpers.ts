/**
 * A real Keywarden listening on a port (in-process, real SQLite, dev seal) with AWS SDK clients
 * signed by Keywarden access keys. The server's clock is a ManualClock set to the real time, so
 * SigV4 request times line up and tests can still move it.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { KMSClient } from '@aws-sdk/client-kms';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Role } from '../../src/auth/principal.model.js';

export interface AwsTestServer {
  t: TestKeywarden;
  clock: ManualClock;
  endpoint: string;
  /** A KMS client for the access key of `principal` (created as root; 'root' gives root's). */
  client(principal?: string, opts?: Partial<ConstructorParameters<typeof KMSClient>[0]>): Promise<KMSClient>;
  /** Creates a service account with roles (as root) and returns a KMS client for it. */
  account(name: string, roles: Role[]): Promise<KMSClient>;
  close(): Promise<void>;
}

export async function startAwsServer(): Promise<AwsTestServer> {
  const clock = new ManualClock(Date.now());
  const t = await startInProcess({ clock });
  await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
  const endpoint = `http://127.0.0.1:${(t.kw.app.server.address() as AddressInfo).port}`;
  const clients: KMSClient[] = [];
  const s: AwsTestServer = {
    t,
    clock,
    endpoint,
    async client(principal = 'root', opts = {}) {
      const r = await t.req('POST', '/v1/access-keys', { principal });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const c = new KMSClient({
        endpoint,
        region: 'us-east-1',
        maxAttempts: 1,
        credentials: { accessKeyId: r.json.accessKeyId, secretAccessKey: r.json.secretAccessKey },
        ...opts,
      });
      clients.push(c);
      return c;
    },
    async account(name, roles) {
      const r = await t.req('POST', '/v1/principals', { name, roles });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return s.client(name);
    },
    async close() {
      for (const c of clients) c.destroy();
      await t.close();
    },
  };
  return s;
}

/** Asserts that `p` rejects with the AWS error `name` (the SDK's error name is the response __type). */
export async function rejectsAws(p: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, name, `${e.name}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}
