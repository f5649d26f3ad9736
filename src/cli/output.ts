/**
 * CLI output: aligned tables for people on a terminal, JSON for scripts (`--json`), and the exit
 * codes scripts can rely on.
 */

/** Exit codes: 0 success, 1 failure (database, unexpected), 2 bad input or usage, 4 not found. */
export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 4 } as const;

/** Format a value for a table cell. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Print rows as a table (columns in the order given) or as JSON. */
export function printRows(rows: Array<Record<string, unknown>>, columns: string[], json: boolean): void {
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  const cells = rows.map((row) => columns.map((c) => cell(row[c]).replace(/\s+/g, ' ').slice(0, 80)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(columns.map((c) => c.toUpperCase())));
  for (const row of cells) console.log(line(row));
}

/** Print a value as JSON for scripts: the TypeScript API's objects, camelCase, dates as ISO strings. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Format a value for a `key: value` line (as a table cell, without the width limit). */
export const valueText = cell;

/** Print one object as `key: value` lines, or as JSON. */
export function printObject(value: Record<string, unknown>, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(value, null, 2));
    return;
  }
  const width = Math.max(...Object.keys(value).map((k) => k.length));
  for (const [key, v] of Object.entries(value)) console.log(`${key.padEnd(width)}  ${cell(v)}`);
}

/** A progress bar on stderr when it is a terminal (nothing otherwise). */
export function progressBar(label: string): (done: number, total: number) => void {
  if (!process.stderr.isTTY) return () => undefined;
  return (done, total) => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
    if (done >= total) process.stderr.write('\n');
  };
}
