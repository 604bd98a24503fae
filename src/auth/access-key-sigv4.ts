/**
 * AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
 * written from the specification: canonical request, string to sign, signing key derivation and
 * the `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header.
 *
 * The transport turns a request into a SigV4 credential (`sigv4Credential`): the parsed
 * Authorization header, the request time and the SHA-256 of the canonical request. Nothing is
 * checked there; AccessKeyService.authenticate (via TokenService) checks the time, the scope and
 * the signature, so every check runs in the pipeline's authentication step.
 */
import { hmacSha256, sha256 } from '../crypto/primitives/index.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** Credentials travel to TokenService as a bearer-like string with this prefix (never a secret: the signature only). */
export const SIGV4_TOKEN_PREFIX = 'sigv4:';

/** RFC 3986 percent-encoding as SigV4 requires: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper-case hex). */
export function uriEncode(s: string, encodeSlash = true): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (c === '/' && !encodeSlash)) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Canonical URI of a non-S3 service: the path normalized (RFC 3986 §5.2.4 dot segments, empty
 * segments removed) and each segment URI-encoded as it appears in the request line (so
 * percent-escapes are encoded again: the "double encoding" AWS specifies for every service but S3).
 */
export function canonicalUri(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const trailing = path.length > 1 && path.endsWith('/') && out.length > 0 ? '/' : '';
  return '/' + out.map((s) => uriEncode(s)).join('/') + trailing;
}

/** Canonical query string: parameters decoded, URI-encoded, sorted by name then value, joined with '&'. */
export function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query.split('&').filter((p) => p !== '').map((p) => {
    const i = p.indexOf('=');
    const k = i === -1 ? p : p.slice(0, i);
    const v = i === -1 ? '' : p.slice(i + 1);
    return [uriEncode(safeDecode(k)), uriEncode(safeDecode(v))] as const;
  });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Trims a header value and collapses runs of spaces to one (values of repeated headers are joined with ','). */
const canonicalValue = (v: string) => v.trim().replace(/ +/g, ' ');

/**
 * Headers as name (lower-case) -> values, from raw header pairs [name, value, name, value, ...]
 * (Node's `rawHeaders`), so repeated headers keep their separate values.
 */
export function headerMap(rawHeaders: readonly string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const list = m.get(name) ?? [];
    list.push(rawHeaders[i + 1] as string);
    m.set(name, list);
  }
  return m;
}

export interface CanonicalInput {
  method: string;
  /** The path as sent in the request line (without the query). */
  path: string;
  /** The raw query string (without '?'); '' when none. */
  query: string;
  headers: Map<string, string[]>;
  /** Lower-case header names, sorted, as listed in SignedHeaders. */
  signedHeaders: readonly string[];
  /** Lower-case hex SHA-256 of the payload. */
  payloadHash: string;
}

/** The canonical request (task 1 of the specification); undefined when a signed header is absent. */
export function canonicalRequest(r: CanonicalInput): string | undefined {
  const lines: string[] = [];
  for (const name of r.signedHeaders) {
    const values = r.headers.get(name);
    if (values === undefined) return undefined;
    lines.push(`${name}:${values.map(canonicalValue).join(',')}\n`);
  }
  return [r.method.toUpperCase(), canonicalUri(r.path), canonicalQuery(r.query), lines.join(''), r.signedHeaders.join(';'), r.payloadHash].join('\n');
}

export const hashHex = (data: Buffer | string) => sha256(data).toString('hex');

/** The credential scope: date/region/service/aws4_request. */
export const credentialScope = (date: string, region: string, service: string) => `${date}/${region}/${service}/aws4_request`;

/** The string to sign (task 2). */
export function stringToSign(amzDate: string, scope: string, canonicalRequestHash: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${canonicalRequestHash}`;
}

/** kDate = HMAC("AWS4" + secret, date); kRegion; kService; kSigning = HMAC(kService, "aws4_request") (task 3). */
export function signingKey(secret: Buffer, date: string, region: string, service: string): Buffer {
  const k = Buffer.concat([Buffer.from('AWS4'), secret]);
  try {
    const kDate = hmacSha256(k, date);
    const kRegion = hmacSha256(kDate, region);
    const kService = hmacSha256(kRegion, service);
    return hmacSha256(kService, 'aws4_request');
  } finally {
    k.fill(0);
  }
}

export const signature = (key: Buffer, toSign: string) => hmacSha256(key, toSign).toString('hex');

export interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=a;b, Signature=hex`. */
export function parseAuthorization(h: string): ParsedAuthorization | undefined {
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(h.trim());
  if (!m) return undefined;
  const parts = new Map<string, string>();
  for (const p of (m[1] as string).split(',')) {
    const i = p.indexOf('=');
    if (i === -1) return undefined;
    parts.set(p.slice(0, i).trim(), p.slice(i + 1).trim());
  }
  const cred = parts.get('Credential')?.split('/');
  const signed = parts.get('SignedHeaders');
  const sig = parts.get('Signature');
  if (cred === undefined || cred.length !== 5 || signed === undefined || sig === undefined) return undefined;
  if (!/^[0-9a-f]{64}$/.test(sig) || signed === '') return undefined;
  const [accessKeyId, date, region, service, terminator] = cred as [string, string, string, string, string];
  const signedHeaders = signed.split(';');
  if (signedHeaders.some((n) => n === '' || n !== n.toLowerCase())) return undefined;
  return { accessKeyId, date, region, service, terminator, signedHeaders, signature: sig };
}

/** What the transport hands to authentication: everything needed to check the signature, no secret. */
export interface SigV4Credential {
  /** The Authorization header as sent. */
  authorization: string;
  /** X-Amz-Date (ISO 8601 basic: 20150830T123600Z), or '' when absent. */
  amzDate: string;
  /** Whether X-Amz-Date is among the signed headers (it must be: an unsigned time could be replayed at will). */
  dateSigned: boolean;
  /** SHA-256 (hex) of the canonical request, or '' when a signed header is missing. */
  canonicalRequestHash: string;
  /** X-Amz-Security-Token was sent (temporary credentials: refused). */
  securityToken: boolean;
}

/** Builds the credential of a request; the checks happen in AccessKeyService.authenticate. */
export function sigv4Credential(req: { method: string; url: string; rawHeaders: readonly string[]; body: Buffer }): SigV4Credential | undefined {
  const headers = headerMap(req.rawHeaders);
  const authorization = headers.get('authorization')?.[0];
  if (authorization === undefined) return undefined;
  const parsed = parseAuthorization(authorization);
  const q = req.url.indexOf('?');
  const amzDate = headers.get('x-amz-date')?.[0] ?? '';
  let canonicalRequestHash = '';
  if (parsed !== undefined) {
    const c = canonicalRequest({
      method: req.method,
      path: q === -1 ? req.url : req.url.slice(0, q),
      query: q === -1 ? '' : req.url.slice(q + 1),
      headers,
      signedHeaders: parsed.signedHeaders,
      payloadHash: hashHex(req.body),
    });
    if (c !== undefined) canonicalRequestHash = hashHex(c);
  }
  return {
    authorization,
    amzDate,
    dateSigned: parsed?.signedHeaders.includes('x-amz-date') ?? false,
    canonicalRequestHash,
    securityToken: headers.has('x-amz-security-token'),
  };
}

export const encodeSigV4Token = (c: SigV4Credential) => SIGV4_TOKEN_PREFIX + JSON.stringify(c);

export function decodeSigV4Token(token: string): SigV4Credential | undefined {
  try {
    const v = JSON.parse(token.slice(SIGV4_TOKEN_PREFIX.length)) as SigV4Credential;
    if (typeof v.authorization !== 'string' || typeof v.amzDate !== 'string' || typeof v.canonicalRequestHash !== 'string') return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/** 20150830T123600Z -> epoch ms; undefined when malformed. */
export function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(t) ? undefined : t;
}
