/**
 * Results: kept per workload, system and metric as the list of repetitions; printed as tables of
 * medians with their min–max spread and Kairos ÷ peer ratios; written as JSON and Markdown.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { summary } from './stats.js';
import { SYSTEM_LABELS, type ColumnName, type MetricDef } from './types.js';

/** Everything measured by one workload. */
export interface WorkloadResult {
  name: string;
  title: string;
  metrics: MetricDef[];
  systems: ColumnName[];
  /** samples[system][metric] = one value per repetition. */
  samples: Partial<Record<ColumnName, Record<string, number[]>>>;
  notes: string[];
}

/** One benchmark run. */
export interface RunResult {
  date: string;
  quick: boolean;
  repeat: number;
  settings: { concurrency: number; batch: number };
  machine: Record<string, string | number>;
  durationS: number;
  workloads: WorkloadResult[];
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 100 || Number.isInteger(value)) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function cell(values: number[] | undefined): string {
  if (!values || values.length === 0) return '—';
  const s = summary(values);
  if (s.n === 0) return '—';
  return s.n > 1 && s.min !== s.max ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : fmt(s.median);
}

function ratio(a: number[] | undefined, b: number[] | undefined): string {
  if (!a?.length || !b?.length) return '—';
  const x = summary(a).median;
  const y = summary(b).median;
  if (!Number.isFinite(x) || !Number.isFinite(y) || y === 0) return x === 0 && y === 0 ? '=' : '—';
  return `${(x / y).toFixed(2)}×`;
}

/** Table rows: metric label, one cell per system, then Kairos ÷ each peer. */
export function tableRows(result: WorkloadResult): { header: string[]; rows: string[][] } {
  const peers = result.systems.filter((s) => s !== 'kairos');
  const hasKairos = result.systems.includes('kairos');
  const header = ['metric', ...result.systems.map((s) => SYSTEM_LABELS[s]), ...(hasKairos ? peers.map((p) => `Kairos ÷ ${SYSTEM_LABELS[p]}`) : [])];
  const rows = result.metrics.map((m) => {
    const arrow = m.better === 'higher' ? ' ↑' : m.better === 'lower' ? ' ↓' : '';
    const label = `${m.label}${m.unit ? ` (${m.unit})` : ''}${arrow}`;
    const cells = result.systems.map((s) => cell(result.samples[s]?.[m.key]));
    const ratios = hasKairos ? peers.map((p) => (m.better === 'info' ? '' : ratio(result.samples.kairos?.[m.key], result.samples[p]?.[m.versus ?? m.key]))) : [];
    return [label, ...cells, ...ratios];
  });
  return { header, rows };
}

/** A plain-text table for the terminal. */
export function textTable(result: WorkloadResult): string {
  const { header, rows } = tableRows(result);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [`\n${result.title}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const note of result.notes) out.push(`  note: ${note.replace(/\n/g, '\n        ')}`);
  return out.join('\n');
}

/** The whole run as Markdown (for bench/results/latest.md and docs/performance.md). */
export function markdown(run: RunResult): string {
  const out = [
    `# Kairos benchmark — ${run.date}`,
    '',
    `Mode: ${run.quick ? 'quick' : 'full'}, ${run.repeat} repetition(s) (median, min–max in brackets); concurrency ${run.settings.concurrency}, batch ${run.settings.batch}; ${run.durationS.toFixed(0)} s.`,
    `Machine: ${Object.entries(run.machine).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    'Ratios are Kairos ÷ peer of the medians: above 1 is better for ↑ metrics, below 1 for ↓ metrics.',
  ];
  for (const result of run.workloads) {
    const { header, rows } = tableRows(result);
    out.push('', `## ${result.title}`, '', `| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const row of rows) out.push(`| ${row.join(' | ')} |`);
    const [plans, plain] = [result.notes.filter((n) => n.includes('\n')), result.notes.filter((n) => !n.includes('\n'))];
    if (plain.length > 0) out.push('', ...plain.map((n) => `- ${n}`));
    for (const plan of plans) out.push('', '```', plan, '```');
  }
  return `${out.join('\n')}\n`;
}

/** Write `bench/results/bench-<date>.json`, `latest.json` and `latest.md`. */
export function writeResults(run: RunResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = run.date.replace(/[:.]/g, '-');
  const json = JSON.stringify(run, null, 2);
  const files = [`${dir}/bench-${stamp}.json`, `${dir}/latest.json`, `${dir}/latest.md`];
  writeFileSync(files[0]!, json);
  writeFileSync(files[1]!, json);
  writeFileSync(files[2]!, markdown(run));
  return files;
}
