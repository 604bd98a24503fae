/**
 * SigV4 against the values AWS publishes: the "get-vanilla" request of the SigV4 test suite and
 * the IAM ListUsers example of the Signature Version 4 documentation (credentials AKIDEXAMPLE /
 * wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 2015-08-30T12:36:00Z, us-east-1). Each step (canonical
 * request, its hash, the signing key, the signature) is computed here by our functions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  hashHex,
  headerMap,
  parseAmzDate,
  parseAuthorization,
  signature,
  signingKey,
  stringToSign,
  uriEncode,
} from './access-key-sigv4.js';

const SECRET = Buffer.from('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY');
const DATE = '20150830T123600Z';
const EMPTY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('get-vanilla (AWS SigV4 test suite)', () => {
  const headers = headerMap(['Host', 'example.amazonaws.com', 'X-Amz-Date', DATE]);
  const creq = canonicalRequest({ method: 'GET', path: '/', query: '', headers, signedHeaders: ['host', 'x-amz-date'], payloadHash: hashHex(Buffer.alloc(0)) });
  assert.equal(creq, `GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:${DATE}\n\nhost;x-amz-date\n${EMPTY_HASH}`);
  const scope = credentialScope('20150830', 'us-east-1', 'service');
  const sts = stringToSign(DATE, scope, hashHex(creq as string));
  assert.equal(sts, `AWS4-HMAC-SHA256\n${DATE}\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63`);
  assert.equal(signature(signingKey(SECRET, '20150830', 'us-east-1', 'service'), sts), '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
});

test('IAM ListUsers example (SigV4 documentation): canonical request hash, signing key, signature', () => {
  const headers = headerMap(['Host', 'iam.amazonaws.com', 'Content-Type', 'application/x-www-form-urlencoded; charset=utf-8', 'X-Amz-Date', DATE]);
  const creq = canonicalRequest({
    method: 'GET',
    path: '/',
    query: 'Version=2010-05-08&Action=ListUsers',
    headers,
    signedHeaders: ['content-type', 'host', 'x-amz-date'],
    payloadHash: EMPTY_HASH,
  }) as string;
  assert.equal(creq.split('\n')[2], 'Action=ListUsers&Version=2010-05-08', 'query parameters sorted');
  assert.equal(hashHex(creq), 'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59');
  const key = signingKey(SECRET, '20150830', 'us-east-1', 'iam');
  assert.equal(key.toString('hex'), 'c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9');
  const sts = stringToSign(DATE, credentialScope('20150830', 'us-east-1', 'iam'), hashHex(creq));
  assert.equal(signature(key, sts), '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7');
});

test('header canonicalisation: lower-case names, trimmed values, runs of spaces collapsed, repeated headers joined with ","', () => {
  const headers = headerMap(['My-Header1', '  value1  ', 'My-Header2', '"a   b   c"', 'My-Header3', 'v1', 'my-header3', 'v2']);
  const creq = canonicalRequest({ method: 'get', path: '/', query: '', headers, signedHeaders: ['my-header1', 'my-header2', 'my-header3'], payloadHash: EMPTY_HASH });
  assert.equal(creq, `GET\n/\n\nmy-header1:value1\nmy-header2:"a b c"\nmy-header3:v1,v2\n\nmy-header1;my-header2;my-header3\n${EMPTY_HASH}`);
  assert.equal(canonicalRequest({ method: 'GET', path: '/', query: '', headers, signedHeaders: ['host'], payloadHash: EMPTY_HASH }), undefined, 'a signed header must be present');
});

test('URI and query canonicalisation (RFC 3986 unreserved characters only; paths normalized and encoded per segment)', () => {
  assert.equal(uriEncode('a b/c~d_e.f-g*'), 'a%20b%2Fc~d_e.f-g%2A');
  assert.equal(uriEncode('ü'), '%C3%BC');
  assert.equal(canonicalUri('/'), '/');
  assert.equal(canonicalUri('//example//'), '/example/');
  assert.equal(canonicalUri('/example1/example2/../..'), '/');
  assert.equal(canonicalUri('/./a/%20b'), '/a/%2520b', 'percent-escapes are encoded again (every service but S3)');
  assert.equal(canonicalQuery('Param2=value2&Param1=value1'), 'Param1=value1&Param2=value2');
  assert.equal(canonicalQuery('Param1=value2&Param1=Value1'), 'Param1=Value1&Param1=value2');
  assert.equal(canonicalQuery('b=%7E%20x&a'), 'a=&b=~%20x');
});

test('Authorization header and X-Amz-Date parsing', () => {
  const a = parseAuthorization(`AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`);
  assert.deepEqual(a, { accessKeyId: 'AKIDEXAMPLE', date: '20150830', region: 'us-east-1', service: 'kms', terminator: 'aws4_request', signedHeaders: ['host', 'x-amz-date'], signature: 'ab'.repeat(32) });
  assert.equal(parseAuthorization('Bearer abc'), undefined);
  assert.equal(parseAuthorization('AWS4-HMAC-SHA256 Credential=A/B/C, SignedHeaders=host, Signature=00'), undefined);
  assert.equal(parseAmzDate(DATE), Date.UTC(2015, 7, 30, 12, 36, 0));
  assert.equal(parseAmzDate('2015-08-30T12:36:00Z'), undefined);
});
