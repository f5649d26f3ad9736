/**
 * pg_stat_statements for one database: the statements that cost the most, named after Kairos's
 * `-- name:` blocks when the text is one of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchServer } from './server.js';

/** One statement's totals. */
export interface StatementStats {
  name: string;
  calls: number;
  rows: number;
  totalMs: number;
  meanMs: number;
  /** Shared blocks hit + read. */
  blocks: number;
  walBytes: number;
}

/** Comments and whitespace out, and every constant or parameter as `?` (pg_stat_statements turns constants into $n). */
const collapse = (text: string): string =>
  text
    .replace(/--[^\n]*\n/g, '\n')
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\$\d+/g, '?')
    .replace(/\b(?:\d+(?:\.\d+)?|true|false|null)\b/gi, '?')
    .replace(/\s+/g, ' ')
    .replace(/;\s*$/, '')
    .trim();

let names: Map<string, string> | undefined;

/** Kairos's named queries (schema `kairos`), by collapsed text. */
function kairosNames(): Map<string, string> {
  if (names) return names;
  names = new Map();
  const dir = fileURLToPath(new URL('../../sql/queries/', import.meta.url));
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
    for (const block of readFileSync(dir + file, 'utf8').split(/^-- name: /m).slice(1)) {
      const newline = block.indexOf('\n');
      const text = block.slice(newline + 1).trim().replaceAll('{{schema}}', '"kairos"').replaceAll('{{channel}}', "'kairos:kairos'");
      names.set(collapse(text), block.slice(0, newline).trim());
    }
  }
  return names;
}

/** A short label for a statement: its Kairos query name, or the start of its text. */
export function statementLabel(query: string): string {
  const named = kairosNames().get(collapse(query));
  const text = query.replace(/^(\s*--[^\n]*\n)+/, '').replace(/\s+/g, ' ').trim();
  return named ? `kairos:${named}` : text.length > 90 ? `${text.slice(0, 87)}…` : text;
}

/** Forget the counters (whole server). */
export async function resetStatements(server: BenchServer): Promise<void> {
  if (server.statements) await server.admin('SELECT pg_stat_statements_reset()');
}

/** The `limit` statements of `database` with the most execution time. */
export async function topStatements(server: BenchServer, database: string, limit = 12): Promise<StatementStats[]> {
  if (!server.statements) return [];
  const rows = await server.admin<{ query: string; calls: string; rows: string; total: number; mean: number; blocks: string; wal: string }>(
    `SELECT s.query, s.calls, s.rows, s.total_exec_time AS total, s.mean_exec_time AS mean,
            s.shared_blks_hit + s.shared_blks_read AS blocks, s.wal_bytes AS wal
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = $1 ORDER BY s.total_exec_time DESC LIMIT $2`,
    [database, limit],
  );
  return rows.map((r) => ({
    name: statementLabel(r.query),
    calls: Number(r.calls),
    rows: Number(r.rows),
    totalMs: r.total,
    meanMs: r.mean,
    blocks: Number(r.blocks),
    walBytes: Number(r.wal),
  }));
}

/** Calls per statement (by label) of `database` so far; empty without pg_stat_statements. */
export async function statementCalls(server: BenchServer, database: string): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  if (!server.statements) return calls;
  const rows = await server.admin<{ query: string; calls: string }>(
    'SELECT s.query, s.calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1',
    [database],
  );
  for (const row of rows) {
    const label = statementLabel(row.query);
    calls.set(label, (calls.get(label) ?? 0) + Number(row.calls));
  }
  return calls;
}
