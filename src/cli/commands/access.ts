import type { Command } from 'commander';
import { formatPairs, printJson, printLine, printTable } from '../output.js';
import { intParser, type Pairs, runtime } from './shared.js';

interface Ref {
  id: string;
  name: string;
}

interface ReviewGrant {
  id: string;
  principal: Ref;
  via: 'key' | 'tag-selector';
  tagSelector: Pairs | null;
  operations: string[];
  conditions: { contextEquals?: Pairs; contextIncludes?: Pairs; sourceCidrs?: string[]; notBefore?: string; notAfter?: string };
  expiresAt: string | null;
  lastUsedAt: string | null;
  inEffect: boolean;
  notInEffect?: string;
}

interface Finding {
  grantId: string;
  principal: Ref;
  keyId: string | null;
  tagSelector: Pairs | null;
  operations: string[];
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

interface Review {
  generatedAt: string;
  unusedDays: number;
  expiringWithinDays: number;
  keys: Array<{ keyId: string; aliases: string[]; state: string; roleAccess: Record<'administer' | 'revoke' | 'read', Ref[]>; grants: ReviewGrant[] }>;
  findings: {
    unusedGrants: Finding[];
    expiringGrants: Finding[];
    principalsWithoutMfa: Array<Ref & { roles: string[] }>;
    mfaNotApplicable: Array<Ref & { roles: string[] }>;
  };
}

const list = (refs: Ref[]) => refs.map((r) => r.name).join(',') || '-';

function conditions(c: ReviewGrant['conditions']): string {
  const parts = [
    c.contextEquals && `context=${formatPairs(c.contextEquals)}`,
    c.contextIncludes && `context⊇${formatPairs(c.contextIncludes)}`,
    c.sourceCidrs && `from ${c.sourceCidrs.join(',')}`,
    c.notBefore && `not before ${c.notBefore}`,
  ];
  return parts.filter(Boolean).join('; ') || '-';
}

const target = (f: Finding) => f.keyId ?? `tags ${formatPairs(f.tagSelector ?? {})}`;

function printReview(r: Review): void {
  printLine(`Access review at ${r.generatedAt}`);
  printLine();
  printLine('Keys (role-wide: key-administrators administer, security officers revoke, auditors read):');
  printTable(
    ['KEY', 'ALIASES', 'STATE', 'ADMINISTER', 'REVOKE', 'READ', 'GRANTS'],
    r.keys.map((k) => [k.keyId, k.aliases.join(',') || '-', k.state, list(k.roleAccess.administer), list(k.roleAccess.revoke), list(k.roleAccess.read), k.grants.length]),
  );
  printLine();
  printLine('Grants in force:');
  printTable(
    ['KEY', 'GRANT', 'PRINCIPAL', 'VIA', 'OPERATIONS', 'CONDITIONS', 'EXPIRES', 'LAST USED', 'IN EFFECT'],
    r.keys.flatMap((k) =>
      k.grants.map((g) => [
        k.keyId,
        g.id,
        g.principal.name,
        g.via === 'key' ? 'key' : `tags ${formatPairs(g.tagSelector ?? {})}`,
        g.operations.join(','),
        conditions(g.conditions),
        g.expiresAt ?? 'never',
        g.lastUsedAt ?? 'never',
        g.inEffect ? 'yes' : `no: ${g.notInEffect ?? ''}`,
      ]),
    ),
  );
  const f = r.findings;
  printLine();
  printLine(`Grants unused for ${r.unusedDays} days or more: ${f.unusedGrants.length}`);
  if (f.unusedGrants.length) printTable(['GRANT', 'PRINCIPAL', 'KEY', 'CREATED', 'LAST USED'], f.unusedGrants.map((g) => [g.grantId, g.principal.name, target(g), g.createdAt, g.lastUsedAt ?? 'never']));
  printLine(`Grants expiring within ${r.expiringWithinDays} days: ${f.expiringGrants.length}`);
  if (f.expiringGrants.length) printTable(['GRANT', 'PRINCIPAL', 'KEY', 'EXPIRES'], f.expiringGrants.map((g) => [g.grantId, g.principal.name, target(g), g.expiresAt]));
  printLine(`Users without MFA: ${f.principalsWithoutMfa.map((p) => `${p.name} (${p.roles.join(',') || 'no roles'})`).join(', ') || 'none'}`);
  printLine(`Service accounts (MFA not applicable): ${f.mfaNotApplicable.map((p) => p.name).join(', ') || 'none'}`);
}

export function registerAccessCommands(program: Command): void {
  const access = program.command('access').description('Review who can do what on which key');

  access
    .command('review')
    .description('Per key: who administers, revokes, reads and uses it (grants); unused and expiring grants; users without MFA')
    .option('--unused-days <n>', 'report grants unused for N days or more', intParser(1, 3650), 30)
    .option('--expiring-days <n>', 'report grants that expire within N days', intParser(0, 3650), 7)
    .action(async (opts: { unusedDays: number; expiringDays: number }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<Review>(`/v1/access-review?unusedDays=${opts.unusedDays}&expiringWithinDays=${opts.expiringDays}`);
      if (format === 'json') return printJson(res);
      printReview(res);
    });
}
