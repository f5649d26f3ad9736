/**
 * The SQL ceiling of draining: Kairos's own claim and completion statements (through its Store)
 * with no engine around them, from Node (one connection in turn, or a claimer and a completer in
 * parallel as the engine does) and from pgbench (a C client) when it is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Store } from '../../src/store/store.js';
import { captureStatement, literal } from './capture.js';
import { nowMs } from './stats.js';

const NODE = { id: 'ceiling', name: 'ceiling', tags: [] as string[] };

/**
 * How the statements are sent: one connection claiming then completing; a claimer and a completer
 * in parallel (the engine's shape); or that with node-postgres 8.23's pipelining on both
 * connections and two claims and two completions in flight on each (the next one is on the wire
 * before the last one's result is back).
 */
export type CeilingMode = 'serial' | 'parallel' | 'pipelined';

/** Drain the `kairos` queue at `url` with the raw statements; returns jobs/s. */
export async function nodeCeiling(url: string, batch: number, mode: CeilingMode): Promise<number> {
  const parallel = mode !== 'serial';
  const inFlight = mode === 'pipelined' ? 2 : 1;
  const options = { connectionString: url, max: 1, ...(mode === 'pipelined' ? { pipeline: true } : {}) };
  const pools = [new pg.Pool(options), new pg.Pool(options)];
  for (const pool of pools) pool.on('error', () => undefined);
  const [claimer, completer] = pools.map((pool) => new Store(pool, 'kairos')) as [Store, Store];
  const claim = (): Promise<Array<{ run_id: number; attempt: number }>> => claimer.claim(NODE, ['default'], ['noop'], batch, null, 60_000);
  const complete = (runs: Array<{ run_id: number; attempt: number }>): Promise<unknown> =>
    completer.complete(runs.map((r) => ({ run_id: r.run_id, attempt: r.attempt, duration_ms: 0, output: null })), NODE.id, null);
  let total = 0;
  const start = nowMs();
  try {
    if (!parallel) {
      for (let runs = await claim(); runs.length > 0; runs = await claim()) {
        await complete(runs);
        total += runs.length;
      }
    } else {
      const queue: Array<{ run_id: number; attempt: number }> = [];
      let claiming = inFlight;
      const claimLoop = async (): Promise<void> => {
        for (let runs = await claim(); runs.length > 0; runs = await claim()) queue.push(...runs);
        claiming--;
      };
      const completeLoop = async (): Promise<void> => {
        while (claiming > 0 || queue.length > 0) {
          if (queue.length === 0) {
            await new Promise((resolve) => setImmediate(resolve));
            continue;
          }
          const runs = queue.splice(0, 1000);
          await complete(runs);
          total += runs.length;
        }
      };
      const loops = Array.from({ length: inFlight }, () => [claimLoop(), completeLoop()]).flat();
      await Promise.all(loops);
    }
    return total / ((nowMs() - start) / 1000);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}

/** Where pgbench is, if anywhere. */
export function findPgbench(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v pgbench'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    const dirs = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
    return dirs.map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`).find((p) => existsSync(p));
  }
}

/** Statement text without comment lines, its $n replaced by literals or pgbench variables. */
function inline(text: string, values: unknown[], variables: Record<number, string> = {}): string {
  const body = text.split('\n').filter((line) => !line.trim().startsWith('--')).join('\n').replace(/;\s*$/, '');
  return body.replace(/\$(\d+)/g, (_, n: string) => variables[Number(n)] ?? literal(values[Number(n) - 1]));
}

/** One pgbench transaction pair: the claim (returning the claimed runs as JSON) and the completion. */
export async function pgbenchScript(batch: number): Promise<string> {
  const claim = await captureStatement('kairos', (s) => s.claim({ ...NODE, id: 'pgbench', name: 'pgbench' }, ['default'], ['noop'], batch, null, 60_000));
  const complete = await captureStatement('kairos', (s) => s.complete([], 'pgbench', null));
  const claimSql = inline(claim.text, claim.values);
  if (!claimSql.trim().startsWith('SELECT')) throw new Error('claimRuns is no longer one SELECT of claim_runs(); update bench/lib/ceiling.ts');
  const claimed = `WITH claimed AS (${claimSql.trim()})\n` +
    `SELECT coalesce(json_object_agg(run_id, json_build_array(attempt, 0)), '{}') AS items,\n` +
    `       coalesce(array_agg(run_id), '{}') AS ids FROM claimed \\gset`;
  // The completion's parameters by what they hold (their positions follow the generated query):
  // the ids are the one array, the attempts the JSON object text.
  const ids = complete.values.findIndex((v) => Array.isArray(v)) + 1;
  const items = complete.values.findIndex((v) => typeof v === 'string' && v.startsWith('{')) + 1;
  if (ids === 0 || items === 0) throw new Error('completeRuns no longer takes an id array and a JSON object; update bench/lib/ceiling.ts');
  return `${claimed}\n${inline(complete.text, complete.values, { [items]: ':items', [ids]: ':ids' })};\n`;
}

/** Drain the queue at `url` with pgbench (`clients` connections); returns jobs/s, or why it could not run. */
export async function pgbenchCeiling(pgbench: string, url: string, jobs: number, batch: number, clients: number): Promise<number | string> {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-pgbench-'));
  try {
    const script = join(dir, 'drain.sql');
    writeFileSync(script, await pgbenchScript(batch));
    const transactions = Math.ceil(jobs / batch / clients) + 1;
    // Prepared, as Kairos sends these statements (named, once per connection).
    const args = ['-n', '-M', 'prepared', '-c', String(clients), '-j', String(clients), '-t', String(transactions), '-f', script, url];
    const start = nowMs();
    const result = spawnSync(pgbench, args, { encoding: 'utf8' });
    const seconds = (nowMs() - start) / 1000;
    if (result.status !== 0) return `pgbench failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`;
    return jobs / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
