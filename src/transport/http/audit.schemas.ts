/** TypeBox schemas of the audit routes (/v1/audit/*). */
import { Type } from '@sinclair/typebox';
import { CheckpointJsonSchema } from '../../audit/checkpoint.js';
import { AuditLeafSchema } from '../../audit/event.js';
import { LedgerExportSchema } from '../../audit/export.js';

const Index = (description: string) => Type.String({ pattern: '^[0-9]{1,15}$', description });
const B64 = Type.String({ description: 'base64' });
const strict = { additionalProperties: false } as const;

export const CheckpointOut = Type.Object({
  checkpoint: Type.Union([CheckpointJsonSchema, Type.Null()], { description: 'The latest signed checkpoint; null before the first' }),
  publicKey: Type.Object({ keyId: Type.String(), spki: B64 }, { description: 'Ed25519 checkpoint verification key (SPKI DER)' }),
});

export const InclusionQuery = Type.Object(
  { index: Index('Event index'), size: Type.Optional(Index('Tree size (default: the latest checkpoint covering the event, else the current size)')) },
  strict,
);
export const InclusionOut = Type.Object({ index: Type.Integer(), size: Type.Integer(), leafHash: B64, rootHash: B64, path: Type.Array(B64) });

export const ConsistencyQuery = Type.Object({ from: Index('Older tree size'), to: Index('Newer tree size') }, strict);
export const ConsistencyOut = Type.Object({ from: Type.Integer(), to: Type.Integer(), fromRoot: B64, toRoot: B64, proof: Type.Array(B64) });

export const ExportOut = LedgerExportSchema;

export const EventsQuery = Type.Object(
  {
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Key id' })),
    principal: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Principal id or name' })),
    operation: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Action, e.g. key:encrypt' })),
    outcome: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('error')])),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'From this time (inclusive)' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Up to this time (inclusive)' })),
    cursor: Type.Optional(Index('nextCursor of the previous page')),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'Page size, 1-1000 (default 100)' })),
  },
  strict,
);
export type EventsQueryT = { key?: string; principal?: string; operation?: string; outcome?: 'allow' | 'deny' | 'error'; since?: string; until?: string; cursor?: string; limit?: string };

export const EventsOut = Type.Object({
  events: Type.Array(Type.Object({ index: Type.Integer(), ...AuditLeafSchema.properties })),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next (older) page; null on the last' }),
});
