/**
 * Wire types of the REST API, derived from the server's own TypeBox schemas so they cannot drift.
 * Type-only imports: nothing of the server is loaded at run time (they are erased on compile).
 */
import type { Static } from '@sinclair/typebox';
import type * as S from '../transport/http/schemas.js';
import type * as A from '../transport/http/auth.schemas.js';
import type * as G from '../transport/http/grants.schemas.js';
import type * as P from '../transport/http/policy.schemas.js';

export type EncryptionContext = Record<string, string>;

export type Key = Static<typeof S.KeyOut>;
export type KeyList = Static<typeof S.KeyListOut>;
export type EncryptResult = Static<typeof S.EncryptOut>;
export type DecryptResult = Static<typeof S.DecryptOut>;
export type DataKeyRequest = Static<typeof S.DataKeyBody>;
export type DataKeyResult = Static<typeof S.DataKeyOut>;
export type ReEncryptRequest = Static<typeof S.ReEncryptBody>;
export type ReEncryptResult = Static<typeof S.ReEncryptOut>;
export type ReWrapResult = Static<typeof S.ReWrapOut>;
export type SignRequest = Static<typeof S.SignBody>;
export type SignResult = Static<typeof S.SignOut>;
export type VerifyRequest = Static<typeof S.VerifyBody>;
export type ValidResult = Static<typeof S.ValidOut>;
export type MacRequest = Static<typeof S.MacBody>;
export type MacResult = Static<typeof S.MacOut>;
export type VerifyMacRequest = Static<typeof S.VerifyMacBody>;
export type PublicKeyResult = Static<typeof S.PublicKeyOut>;
export type RandomResult = Static<typeof S.RandomOut>;
export type Health = Static<typeof S.HealthOut>;
export type ApiErrorBody = Static<typeof S.ErrorBody>;
export type TokenResult = Static<typeof A.TokenOut>;
export type TokenRequest = Static<typeof A.TokenBody>;
export type Grant = Static<typeof G.GrantOut>;
export type GrantList = Static<typeof G.GrantListOut>;
export type KeyPolicy = Static<typeof P.KeyPolicyOut>;
