/**
 * `kairos demo`: a tour on an embedded PostgreSQL (or --database-url). Recurring jobs fire every
 * few seconds, a one-time job fires once, a flaky job fails and is retried, everything lands in
 * the history; Ctrl-C (or SIGTERM, SIGHUP, a closed pipe, a crash) stops Kairos first, then the
 * embedded database, so the demo never leaves a PostgreSQL running.
 */
import { Kairos } from '../api/kairos.js';
import { defineTask } from '../api/tasks.js';
import { silentLogger } from '../core/logger.js';
import type { StatusChange } from '../core/types.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../embedded/postgres.js';
import { redactConnectionString } from '../core/redact.js';
import { exitOnShutdown } from './shutdown.js';

const time = (d: Date = new Date()): string => d.toISOString().slice(11, 23);
const say = (text: string): void => console.log(`${time()}  ${text}`);

const MARK: Record<string, string> = { running: '▶', completed: '✔', failed: '✖', cancelled: '■', expired: '⌛', pending: '↻' };

/** The demo's tasks: what each prints says what Kairos told it. */
function demoTasks(): ConstructorParameters<typeof Kairos>[0]['tasks'] {
  const attempts = new Map<number, number>();
  return {
    heartbeat: defineTask((_p, ctx) => say(`  heartbeat fired for ${time(ctx.scheduledAt!)} (${ctx.latenessMs} ms late)`)),
    report: defineTask((_p, ctx) => say(`  report #${ctx.runId}: every 5 s on a fixed grid, occurrence ${time(ctx.scheduledAt!)}`)),
    reminder: defineTask<{ text: string }>((p) => say(`  reminder (one-time): ${p.text}`)),
    'send-email': defineTask<{ to: string }>(async (p) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return { delivered: p.to };
    }),
    flaky: defineTask<{ failTimes: number }>((p, ctx) => {
      attempts.set(ctx.runId, ctx.attempt);
      // A plain Error on purpose: it stands for a user's handler failing, not for Kairos refusing.
      if (ctx.attempt <= p.failTimes) throw new Error(`simulated outage (attempt ${ctx.attempt})`);
      say(`  flaky succeeded on attempt ${ctx.attempt}`);
    }),
  };
}

async function setUp(kairos: Kairos): Promise<void> {
  for (const job of await kairos.listJobs()) await kairos.unschedule(job.name);
  await kairos.schedule({ name: 'heartbeat', task: 'heartbeat', cron: '*/2 * * * * *' });
  await kairos.schedule({ name: 'report', task: 'report', every: '5s', startAt: new Date(Math.floor(Date.now() / 5000) * 5000) });
  await kairos.schedule({ name: 'reminder', task: 'reminder', at: new Date(Date.now() + 3000), payload: { text: 'fires once, 3 s after start' } });
  await kairos.enqueueMany([
    { task: 'send-email', payload: { to: 'ada@example.com' } },
    { task: 'send-email', payload: { to: 'grace@example.com' }, delay: '4s' },
  ]);
  await kairos.enqueue('flaky', { failTimes: 2 }, { retries: 3, backoff: 500 });
}

function describe(change: StatusChange): string | undefined {
  if (change.next === 'pending' && change.previous === '') return undefined;
  const arrow = change.previous === 'running' && change.next === 'pending' ? 'retry scheduled' : change.next;
  return `${MARK[change.next] ?? '·'} ${arrow.padEnd(15)} ${change.job.padEnd(11)} run ${change.runId}`;
}

async function summary(kairos: Kairos): Promise<void> {
  const logs = await kairos.history({ limit: 10_000 });
  const counts = new Map<string, number>();
  for (const log of logs) counts.set(log.status, (counts.get(log.status) ?? 0) + 1);
  say(`history: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'empty'}; jobs: ${(await kairos.listJobs()).map((j) => `${j.name} next ${j.nextRun ? time(j.nextRun) : '—'}`).join(', ')}`);
}

/** Action of `kairos demo`. Ctrl-C, SIGTERM, SIGHUP, closed output and uncaught errors all stop the server (see shutdown.ts). */
export async function demoCommand(options: { databaseUrl?: string; schema: string; duration?: number; dataDir: string }): Promise<void> {
  let starting: Promise<EmbeddedPostgres> | undefined;
  let kairos: Kairos | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped: Promise<void> | undefined;
  // Whatever has started so far, in reverse: Kairos, then the server (awaited if still starting).
  const stop = (why: string): Promise<void> =>
    (stopped ??= (async () => {
      say(`${why}: stopping Kairos (running jobs finish or are handed back) …`);
      clearInterval(timer);
      try {
        if (kairos) {
          await summary(kairos).catch(() => undefined);
          await kairos.stop();
        }
      } finally {
        const server = await starting?.catch(() => undefined);
        if (server) {
          say('stopping the embedded PostgreSQL …');
          await server.stop();
        }
      }
      say('stopped cleanly');
    })());
  const hooks = exitOnShutdown((reason) => stop(reason === 'SIGINT' ? 'Ctrl-C' : reason), (error) => console.error(`kairos: stopping failed: ${String(error)}`));
  try {
    let url = options.databaseUrl;
    if (!url) {
      say(`starting an embedded PostgreSQL (data in ${options.dataDir}) …`);
      starting = startEmbeddedPostgres({ dataDir: options.dataDir });
      url = (await starting).url;
    }
    say(`database: ${redactConnectionString(url)}, schema ${options.schema}`);
    kairos = new Kairos({ connectionString: url, schema: options.schema, tasks: demoTasks(), logger: silentLogger, pollInterval: 1000, shutdownTimeout: 5000 });
    kairos.on('status', (change: StatusChange) => {
      const line = describe(change);
      if (line) say(line);
    });
    const node = kairos;
    timer = setInterval(() => void summary(node).catch(() => undefined), 10_000);
    await kairos.start();
    await setUp(kairos);
    say(`Kairos node ${kairos.nodeId} started: heartbeat every 2 s (cron), report every 5 s (interval), a reminder in 3 s, emails, a flaky job. Ctrl-C to stop.`);
  } catch (error) {
    await stop('start failed').catch(() => undefined);
    hooks.dispose();
    throw error;
  }
  // Signals and the rest end the process from exitOnShutdown; only --duration ends it here.
  if (options.duration) {
    await new Promise((resolve) => setTimeout(resolve, options.duration! * 1000));
    await stop(`${options.duration} s elapsed`);
    hooks.dispose();
  } else {
    await new Promise<never>(() => undefined);
  }
}
