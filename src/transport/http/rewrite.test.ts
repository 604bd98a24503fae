import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteKeyUrl } from './server.js';

test('alias names with slashes are split from the key action', () => {
  const cases: Array<[string, string]> = [
    ['/v1/keys/alias/a', '/v1/keys/alias%2Fa'],
    ['/v1/keys/alias/team/app', '/v1/keys/alias%2Fteam%2Fapp'],
    ['/v1/keys/alias/team/app/encrypt', '/v1/keys/alias%2Fteam%2Fapp/encrypt'],
    ['/v1/keys/alias/a/versions', '/v1/keys/alias%2Fa/versions'],
    ['/v1/keys/alias/a/b/versions/12/destroy', '/v1/keys/alias%2Fa%2Fb/versions/12/destroy'],
    ['/v1/keys/alias/a/public-key?version=2', '/v1/keys/alias%2Fa/public-key?version=2'],
    ['/v1/keys/alias%2Fx%2Fencrypt', '/v1/keys/alias%2Fx%2Fencrypt'],
    ['/v1/keys/alias%2Fx%2Fencrypt/encrypt', '/v1/keys/alias%2Fx%2Fencrypt/encrypt'],
    ['/v1/keys/0d6e2a4c-8a51-4b43-9f0e-3f1a2b3c4d5e/encrypt', '/v1/keys/0d6e2a4c-8a51-4b43-9f0e-3f1a2b3c4d5e/encrypt'],
    ['/v1/decrypt', '/v1/decrypt'],
    ['/v1/keys/alias/%E0%A4%A', '/v1/keys/alias/%E0%A4%A'],
  ];
  for (const [input, expected] of cases) assert.equal(rewriteKeyUrl(input), expected, input);
});
