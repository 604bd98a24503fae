import { writeFile } from 'node:fs/promises';

export type Format = 'json' | 'table';
export const FORMATS: readonly Format[] = ['json', 'table'];

type Cell = string | number | boolean | null | undefined;

const text = (v: Cell): string => (v === undefined || v === null ? '' : String(v));

export function printLine(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  printLine(JSON.stringify(value, null, 2));
}

/** Prints `label  value` lines with the values aligned; rows whose value is undefined are skipped. */
export function printFields(rows: ReadonlyArray<readonly [string, Cell]>): void {
  const shown = rows.filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  for (const [label, value] of shown) printLine(`${label.padEnd(width)}  ${text(value)}`);
}

/** Prints an aligned table with a header row. */
export function printTable(headers: readonly string[], rows: ReadonlyArray<readonly Cell[]>): void {
  const cells = [headers, ...rows.map((r) => r.map(text))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) printLine(r.map((c, i) => (c ?? '').padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

/** Formats a string map as `k=v, k2=v2`. */
export function formatPairs(pairs: Record<string, string> | undefined): string {
  return Object.entries(pairs ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Writes raw bytes to FILE (created with mode 0600, as it may hold secrets) or to stdout. */
export async function writeBytes(file: string | undefined, data: Buffer): Promise<void> {
  if (file === undefined) {
    await new Promise<void>((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));
  } else {
    await writeFile(file, data, { mode: 0o600 });
  }
}

/**
 * Writes the named base64 fields of an API response as raw bytes to the files given for them
 * (fields mapped to undefined are left alone) and returns the response without the written fields.
 */
export async function saveFields<T extends object>(
  response: T,
  files: Partial<Record<keyof T & string, string | undefined>>,
): Promise<Partial<T>> {
  const rest: Partial<T> = { ...response };
  for (const [field, file] of Object.entries(files) as [keyof T & string, string | undefined][]) {
    const value = response[field];
    if (file === undefined || typeof value !== 'string') continue;
    await writeBytes(file, Buffer.from(value, 'base64'));
    delete rest[field];
  }
  return rest;
}

/**
 * Emits the binary `field` of a response: raw bytes to `out` when given (then, in json format,
 * the rest of the response), otherwise raw bytes to stdout when `raw`, otherwise the JSON
 * response or the base64 value on a line of its own.
 */
export async function emitBlob<T extends object>(
  response: T,
  field: keyof T & string,
  format: Format,
  { out, raw = false }: { out?: string | undefined; raw?: boolean },
): Promise<void> {
  const value = response[field] as string;
  if (out !== undefined) {
    const rest = await saveFields(response, { [field]: out } as Partial<Record<keyof T & string, string>>);
    if (format === 'json') printJson(rest);
  } else if (raw) {
    await writeBytes(undefined, Buffer.from(value, 'base64'));
  } else if (format === 'json') {
    printJson(response);
  } else {
    printLine(value);
  }
}
