/**
 * What one job's latency is made of on this machine: round trips of single statements (with and
 * without waiting for the WAL flush), and, with a Kairos node in this process, when the enqueue
 * returns, when the NOTIFY arrives and when the handler starts. Every figure is p50 / p99 in ms.
 */
import pg from 'pg';
import { Kairos } from '../../src/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { internals } from '../../src/api/internals.js';
import { captureStatement } from './capture.js';
import { nowMs, percentiles, sleep } from './stats.js';

const N = 300;

async function time(fn: () => Promise<unknown>, setup?: () => Promise<unknown>): Promise<string> {
  const xs: number[] = [];
  for (let i = 0; i < N; i++) {
    await setup?.();
    const t = nowMs();
    await fn();
    xs.push(nowMs() - t);
  }
  const p = percentiles(xs);
  return `${p.p50.toFixed(2)} / ${p.p99.toFixed(2)}`;
}

/** Markdown rows: statement round trips on the database at `url` (Kairos schema installed here). */
export async function roundTrips(url: string): Promise<string> {
  const kairos = new Kairos({ connectionString: url, logger: silentLogger });
  await kairos.migrate();
  const sync = new pg.Client({ connectionString: url });
  const noWait = new pg.Client({ connectionString: url });
  await Promise.all([sync.connect(), noWait.connect()]);
  await noWait.query('SET synchronous_commit = off');
  const claim = await captureStatement('kairos', (s) => s.claim({ id: 'rt', name: 'rt', tags: [] }, ['default'], ['noop'], 10, null, 60_000));
  const insert = (): Promise<unknown> => sync.query(`INSERT INTO kairos.runs (task) VALUES ('noop')`);
  try {
    const rows = [
      ['`SELECT 1`', await time(() => sync.query('SELECT 1'))],
      ['`INSERT` of one run (commit waits for the WAL flush; fires the NOTIFY trigger)', await time(insert)],
      ['`kairos.enqueue()` (validation, JSON, insertRuns, commit)', await time(() => kairos.enqueue('noop', {}))],
      ['claimRuns of one run, synchronous commit', await time(() => sync.query(claim.text, claim.values), insert)],
      ['claimRuns of one run, `synchronous_commit = off` (what-if)', await time(() => noWait.query(claim.text, claim.values), insert)],
    ];
    return ['| round trip | p50 / p99 ms |', '|---|---:|', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
  } finally {
    await Promise.all([sync.end(), noWait.end()]);
    await kairos.stop();
  }
}

/** Markdown rows: a Kairos node and an enqueuer in this process; when each step of a job's latency happens. */
export async function latencySteps(url: string): Promise<string> {
  let started: (t: number) => void = () => undefined;
  const node = new Kairos({ connectionString: url, concurrency: 50, logger: silentLogger, tasks: { noop: () => started(nowMs()) } });
  await node.start();
  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  let notified: (t: number) => void = () => undefined;
  listener.on('notification', () => notified(nowMs()));
  await listener.query(`LISTEN "${internals(node).store.channel}"`);
  const steps = { returned: [] as number[], notify: [] as number[], handler: [] as number[] };
  try {
    for (let i = 0; i < 205; i++) {
      const start = new Promise<number>((resolve) => (started = resolve));
      const notify = new Promise<number>((resolve) => (notified = resolve));
      const t0 = nowMs();
      await node.enqueue('noop', {});
      const t1 = nowMs();
      const [tn, th] = await Promise.all([notify, start]);
      if (i >= 5) {
        steps.returned.push(t1 - t0);
        steps.notify.push(tn - t0);
        steps.handler.push(th - t0);
      }
      await sleep(10 + Math.random() * 10);
    }
  } finally {
    await listener.end();
    await node.stop();
  }
  const row = (label: string, xs: number[]): string => {
    const p = percentiles(xs);
    return `| ${label} | ${p.p50.toFixed(2)} / ${p.p99.toFixed(2)} |`;
  };
  return ['| after `enqueue()` is called | p50 / p99 ms |', '|---|---:|', row('enqueue returns', steps.returned), row('NOTIFY received (a plain LISTEN client)', steps.notify), row('handler starts', steps.handler)].join('\n');
}
