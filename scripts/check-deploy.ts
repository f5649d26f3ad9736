/**
 * `npm run check:deploy`: offline checks of what Kairos ships for deployment, for CI on a machine
 * without Docker or a cluster.
 *
 * - Dockerfile: dockerfile-utils' linter, then project rules (multi-stage, pinned base images,
 *   production dependencies only, a non-root USER, a HEALTHCHECK, an init as PID 1, no ADD of URLs,
 *   and every COPY source present in the build context and not excluded by .dockerignore).
 * - docker-compose.yml: services, healthchecks, depends_on conditions, loopback-only ports, the
 *   agent configuration it mounts (loaded by the agent's own loader), grace periods.
 * - deploy/kubernetes: see scripts/check-deploy-kubernetes.ts.
 * - The package: `npm pack --dry-run` lists what the image copies (bin, dist, sql).
 *
 * Usage: `tsx scripts/check-deploy.ts [--root DIR] [--no-pack]`. Exit 1 with one line per problem.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { parseDocument } from 'yaml';
import { parseDuration } from '../src/core/duration.js';
import { agentConfig, checkKairosVersion, checkKubernetes, type DeployProblem, type Report } from './check-deploy-kubernetes.js';

export type { DeployProblem } from './check-deploy-kubernetes.js';

/** Options of {@link checkDeploy}. */
export interface CheckDeployOptions {
  /** The project root holding Dockerfile, docker-compose.yml and deploy/. */
  root: string;
  /** Also check `npm pack --dry-run` (needs a built dist/). @default true */
  pack?: boolean;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- compose files are untyped YAML */
type Obj = Record<string, any>;

/** Run every check; an empty list means the deployment files are sound. */
export async function checkDeploy(options: CheckDeployOptions): Promise<DeployProblem[]> {
  const root = resolve(options.root);
  const problems: DeployProblem[] = [];
  const report: Report = (file, rule, message) => void problems.push({ file, rule, message });
  const imageEnv = await checkDockerfile(root, report);
  const version = existsSync(join(root, 'package.json')) ? (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version?: string }).version : undefined;
  await checkCompose(root, imageEnv, version, report);
  await checkKubernetes(root, { imageEnv, version }, report);
  if (options.pack !== false) await checkPack(root, report);
  return problems;
}

interface Instruction { keyword: string; args: string; line: number }

/** Instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line.startsWith('#') || (buffer === '' && line === '')) return;
    if (buffer === '') start = index + 1;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1).trimEnd()} `;
      return;
    }
    buffer += line;
    const [, keyword = '', args = ''] = /^(\S+)\s*([\s\S]*)$/.exec(buffer) ?? [];
    out.push({ keyword: keyword.toUpperCase(), args: args.trim(), line: start });
    buffer = '';
  });
  return out;
}

/** Lines of .dockerignore, as (pattern, negated) in order; the last match decides. */
function ignoreRules(text: string): Array<{ re: RegExp; negate: boolean }> {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!');
    const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
    const body = pattern.split('/').map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))).join('/');
    return { re: new RegExp(`^${body}(/.*)?$`), negate };
  });
}
const ignored = (rules: ReturnType<typeof ignoreRules>, path: string): boolean =>
  rules.reduce((state, rule) => (rule.re.test(path) ? !rule.negate : state), false);

/** Lint and check the Dockerfile; returns the KAIROS_* variables the image sets (they configure every container). */
async function checkDockerfile(root: string, report: Report): Promise<Record<string, string>> {
  const file = 'Dockerfile';
  if (!existsSync(join(root, file))) {
    report(file, 'present', 'Expected a Dockerfile at the project root');
    return {};
  }
  const text = await readFile(join(root, file), 'utf8');
  for (const d of lintDockerfile(text)) report(file, 'dockerfile-lint', `line ${d.range.start.line + 1}: ${d.message}`);
  const all = parseDockerfile(text);
  const globalArgs = new Map<string, string>();
  for (const i of all) {
    if (i.keyword === 'FROM') break;
    const [name = '', value = ''] = i.keyword === 'ARG' ? i.args.split('=', 2) : [];
    if (name) globalArgs.set(name, value);
  }
  const stages: Array<{ name: string; line: number; body: Instruction[] }> = [];
  for (const i of all) {
    if (i.keyword === 'FROM') {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = (words[0] ?? '').replace(/\$\{?(\w+)\}?/g, (_, n: string) => globalArgs.get(n) ?? '');
      checkBaseImage(image, i.line, stages.map((s) => s.name), report);
      stages.push({ name: (words[1]?.toUpperCase() === 'AS' ? words[2] : undefined)?.toLowerCase() ?? String(stages.length), line: i.line, body: [] });
    } else stages.at(-1)?.body.push(i);
  }
  if (stages.length < 2) report(file, 'multi-stage', 'Expected a multi-stage build (a build stage with dev dependencies, a runtime stage without them)');
  const final = stages.at(-1)?.body ?? [];
  const last = (keyword: string): Instruction | undefined => final.filter((i) => i.keyword === keyword).at(-1);
  const user = last('USER')?.args.split(':')[0];
  if (user === undefined) report(file, 'non-root', 'Expected a USER instruction in the final stage: the base image runs as root');
  else if (user === 'root' || user === '0') report(file, 'non-root', `Expected the final stage's USER to be a non-root user, got ${user}`);
  const health = last('HEALTHCHECK');
  if (!health || /^NONE\b/i.test(health.args)) report(file, 'healthcheck', 'Expected a HEALTHCHECK in the final stage (a request to /healthz)');
  const entrypoint = last('ENTRYPOINT');
  let argv: unknown;
  try {
    argv = entrypoint ? JSON.parse(entrypoint.args) : undefined;
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv)) report(file, 'entrypoint', 'Expected ENTRYPOINT in exec (JSON) form, so that signals reach the process rather than a shell');
  else {
    if (!argv.some((a) => /(^|\/)kairos(\.js)?$/.test(String(a)))) report(file, 'entrypoint', `Expected ENTRYPOINT to run kairos, got ${entrypoint?.args}`);
    if (!/(^|\/)(tini|dumb-init)$/.test(String(argv[0]))) report(file, 'init', 'Expected ENTRYPOINT to start with an init (tini or dumb-init) that reaps the zombies shell jobs leave behind');
  }
  for (const i of all) {
    if (i.keyword === 'ADD' && /(^|\s)(https?:\/\/|git@)/.test(i.args)) report(file, 'no-add-url', `line ${i.line}: ADD of a URL fetches unverified content at build time; download with a checksum in a RUN, or COPY`);
  }
  checkProductionDeps(stages, final, report);
  await checkCopySources(root, all, report);
  const env = Object.fromEntries(final.filter((i) => i.keyword === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1] as string, (m[2] as string).replace(/^"|"$/g, '')])));
  const port = env.KAIROS_HTTP_PORT;
  const exposed = final.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => p.split('/')[0]));
  if (port === undefined) report(file, 'agent-http', 'Expected the final stage to set ENV KAIROS_HTTP_PORT: without it `kairos start` serves no /healthz and the HEALTHCHECK fails');
  else if (!exposed.includes(port)) report(file, 'ports', `Expected EXPOSE ${port} (KAIROS_HTTP_PORT), got ${exposed.join(', ') || 'no EXPOSE'}`);
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('KAIROS_')));
}

function checkBaseImage(image: string, line: number, stageNames: string[], report: Report): void {
  if (stageNames.includes(image.toLowerCase()) || image === 'scratch') return;
  if (image.includes('@sha256:')) return;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  if (tag === undefined || tag === 'latest' || !/\d/.test(tag)) {
    report('Dockerfile', 'base-image-pinned', `line ${line}: Expected the base image to be pinned to a version tag (such as node:20.19-bookworm-slim), got "${image}"`);
  }
}

/** The runtime's node_modules come from an install that omitted dev dependencies. */
function checkProductionDeps(stages: Array<{ name: string; body: Instruction[] }>, final: Instruction[], report: Report): void {
  const prodInstall = (body: Instruction[]): boolean =>
    body.some((i) => i.keyword === 'RUN' && (/npm (ci|install)\b[^&;]*--omit[= ]dev/.test(i.args) || /npm prune\b[^&;]*(--omit[= ]dev|--production)/.test(i.args)));
  const copies = final.filter((i) => i.keyword === 'COPY' && /node_modules/.test(i.args));
  const from = copies.map((i) => /--from=(\S+)/.exec(i.args)?.[1]?.toLowerCase()).filter((s): s is string => s !== undefined);
  const ok = from.length > 0 ? from.every((name) => prodInstall(stages.find((s) => s.name === name)?.body ?? [])) : prodInstall(final);
  if (!ok) report('Dockerfile', 'production-deps', 'Expected the runtime stage\'s node_modules to come from `npm ci --omit=dev` (or `npm prune --omit=dev`): dev dependencies do not belong in the image');
}

/** Every COPY from the build context names something that exists and that .dockerignore lets through. */
async function checkCopySources(root: string, all: Instruction[], report: Report): Promise<void> {
  const rules = existsSync(join(root, '.dockerignore')) ? ignoreRules(await readFile(join(root, '.dockerignore'), 'utf8')) : [];
  if (rules.length === 0) report('.dockerignore', 'present', 'Expected a .dockerignore keeping node_modules, dist and .kairos out of the build context');
  for (const rule of ['node_modules', '.kairos', '.env']) {
    if (rules.length > 0 && !ignored(rules, rule)) report('.dockerignore', 'context', `Expected .dockerignore to exclude ${rule}`);
  }
  for (const i of all) {
    if ((i.keyword !== 'COPY' && i.keyword !== 'ADD') || /--from=/.test(i.args)) continue;
    const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
    for (const source of words.slice(0, -1)) {
      const path = source.replace(/^\.\//, '').replace(/\/$/, '');
      if (path.includes('*') || /^https?:/.test(path)) continue;
      if (!existsSync(join(root, path))) report('Dockerfile', 'copy-source', `line ${i.line}: COPY source ${source} does not exist in the build context`);
      else if (ignored(rules, path)) report('Dockerfile', 'copy-source', `line ${i.line}: COPY source ${source} is excluded by .dockerignore, so the build would fail`);
    }
  }
}

const CONDITIONS = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
const commandOf = (s: Obj): string[] => (Array.isArray(s.command) ? s.command.map(String) : typeof s.command === 'string' ? s.command.split(/\s+/) : []);
const isKairos = (s: Obj): boolean => s.build !== undefined || /(^|\/)kairos(:|$)/.test(String(s.image ?? ''));

async function checkCompose(root: string, imageEnv: Record<string, string>, version: string | undefined, report: Report): Promise<void> {
  const file = 'docker-compose.yml';
  if (!existsSync(join(root, file))) return report(file, 'present', 'Expected docker-compose.yml at the project root');
  const doc = parseDocument(await readFile(join(root, file), 'utf8'), { merge: true });
  if (doc.errors[0]) return report(file, 'yaml', `Invalid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const services = (doc.toJS({ maxAliasCount: 100 }) as Obj | null)?.services as Obj | undefined;
  if (!services || typeof services !== 'object') return report(file, 'services', 'Expected a `services:` mapping');
  const entries = Object.entries(services) as Array<[string, Obj]>;
  const postgres = entries.find(([, s]) => /^postgres:/.test(String(s.image ?? '')));
  if (!postgres) report(file, 'services', 'Expected a PostgreSQL service (image postgres:16 or postgres:17)');
  else {
    const [name, s] = postgres;
    if (!/^postgres:1[67](\.|-|$)/.test(String(s.image))) report(file, 'postgres', `Expected service ${name} to use PostgreSQL 16 or 17, got ${s.image}`);
    if (!s.healthcheck?.test) report(file, 'healthcheck', `Expected service ${name} to have a healthcheck (pg_isready), so that others can wait for service_healthy`);
    if (!((s.volumes ?? []) as unknown[]).some((v) => String(typeof v === 'object' ? (v as Obj).target : v).includes('/var/lib/postgresql/data'))) report(file, 'postgres', `Expected service ${name} to keep its data in a volume at /var/lib/postgresql/data`);
  }
  for (const [name, s] of entries) {
    if (typeof s.image === 'string' && (!/:[^/:]+$/.test(s.image) || s.image.endsWith(':latest'))) report(file, 'image-tag', `Expected service ${name} to pin an image version, got ${s.image}`);
    else if (typeof s.image === 'string') checkKairosVersion(file, `service ${name}`, s.image, version, report);
    for (const p of (s.ports ?? []) as unknown[]) {
      const published = typeof p === 'object' ? (p as Obj).host_ip : String(p).split(':').length === 3 ? String(p).split(':')[0] : undefined;
      if (published !== '127.0.0.1') report(file, 'ports', `Service ${name} publishes ${typeof p === 'object' ? JSON.stringify(p) : String(p)} on every interface; bind it to 127.0.0.1 ("127.0.0.1:8080:8080")`);
    }
    const depends = s.depends_on ?? {};
    for (const [target, spec] of Array.isArray(depends) ? depends.map((t: string) => [t, {}] as const) : Object.entries(depends as Obj)) {
      const condition = (spec as Obj).condition ?? 'service_started';
      if (!services[target]) report(file, 'depends-on', `Service ${name} depends on ${target}, which is not defined`);
      else if (!CONDITIONS.has(condition)) report(file, 'depends-on', `Service ${name}: depends_on.${target}.condition must be one of ${[...CONDITIONS].join(', ')}, got ${condition}`);
      else if (condition === 'service_healthy' && !services[target].healthcheck?.test) report(file, 'depends-on', `Service ${name} waits for ${target} to be healthy, but ${target} has no healthcheck`);
    }
  }
  await checkComposeKairos(root, file, entries, imageEnv, report);
}

/** The migrate one-shot, the agents (several, after the migration), their config and grace period. */
async function checkComposeKairos(root: string, file: string, entries: Array<[string, Obj]>, imageEnv: Record<string, string>, report: Report): Promise<void> {
  const kairos = entries.filter(([, s]) => isKairos(s));
  const migrate = kairos.find(([, s]) => commandOf(s)[0] === 'migrate');
  if (!migrate) report(file, 'migrate', 'Expected a one-shot service running `kairos migrate` before the agents start');
  else if (!['no', 'on-failure'].includes(String(migrate[1].restart ?? 'no'))) report(file, 'migrate', `Expected service ${migrate[0]} (a one-shot) to have restart "no" or "on-failure", got ${migrate[1].restart}`);
  const agents = kairos.filter(([, s]) => commandOf(s)[0] === 'start');
  const nodes = agents.reduce((n, [, s]) => n + Number(s.deploy?.replicas ?? s.scale ?? 1), 0);
  if (nodes < 2) report(file, 'agents', `Expected several agent nodes (deploy.replicas or several services running \`kairos start\`), got ${nodes}`);
  for (const [name, s] of kairos) {
    if (s.environment?.DATABASE_URL === undefined && !(Array.isArray(s.environment) && s.environment.some((e: string) => e.startsWith('DATABASE_URL=')))) {
      report(file, 'environment', `Expected service ${name} to set DATABASE_URL: the image carries no embedded PostgreSQL`);
    }
  }
  for (const [name, s] of agents) {
    if (migrate && s.depends_on?.[migrate[0]]?.condition !== 'service_completed_successfully') report(file, 'depends-on', `Expected agent service ${name} to depend on ${migrate[0]} with condition service_completed_successfully`);
    const args = commandOf(s);
    const configPath = args.includes('--config') ? args[args.indexOf('--config') + 1] : undefined;
    let text: string | undefined;
    if (configPath) {
      const mount = ((s.volumes ?? []) as unknown[]).map((v) => (typeof v === 'object' ? `${(v as Obj).source}:${(v as Obj).target}` : String(v)).split(':')).find((parts) => parts[1] === configPath);
      const source = mount?.[0] ? join(root, mount[0]) : undefined;
      if (!source || !existsSync(source)) {
        report(file, 'agent-config', `Agent service ${name} reads --config ${configPath}, but no existing file is mounted there`);
        continue;
      }
      text = await readFile(source, 'utf8');
    }
    const env = { ...imageEnv, ...Object.fromEntries(Object.entries((s.environment ?? {}) as Obj).filter(([k]) => k.startsWith('KAIROS_')).map(([k, v]) => [k, String(v)])) };
    const config = await agentConfig(text, env, `${file} (service ${name})`, report);
    const probe = /:(\d+)\/healthz/.exec([s.healthcheck?.test ?? []].flat().join(' '))?.[1];
    if (config && config.httpPort === undefined) report(file, 'agent-http', `Agent service ${name} serves no /healthz: set KAIROS_HTTP_PORT or http.port`);
    else if (config && probe !== undefined && Number(probe) !== config.httpPort) report(file, 'healthcheck', `The healthcheck of service ${name} asks port ${probe}, but the agent serves /healthz on ${config.httpPort}`);
    let grace = 10_000;
    try {
      if (s.stop_grace_period !== undefined) grace = parseDuration(String(s.stop_grace_period), 'stop_grace_period');
    } catch (error) {
      report(file, 'grace-period', `Service ${name}: ${(error as Error).message}`);
    }
    if (config && grace < config.shutdownTimeout + 5000) report(file, 'grace-period', `Expected stop_grace_period of service ${name} (${grace / 1000}s) to exceed the agent's shutdown_timeout (${config.shutdownTimeout / 1000}s) by at least 5s, or Docker kills the node mid-drain`);
  }
}

/** The package (what the image's build stage packs) holds the CLI, the compiled code and the SQL. */
async function checkPack(root: string, report: Report): Promise<void> {
  let files: string[];
  try {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, maxBuffer: 16 << 20 });
    files = ((JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files ?? []).map((f) => f.path);
  } catch (error) {
    return report('package.json', 'pack', `npm pack --dry-run failed: ${(error as Error).message.split('\n')[0]}`);
  }
  const sql = (dir: string): string[] => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((f) => f.endsWith('.sql')).map((f) => `${dir}/${f}`) : []);
  const needed = ['package.json', 'bin/kairos.js', 'dist/index.js', 'dist/cli/index.js', ...sql('sql/migrations'), ...sql('sql/queries')];
  for (const path of needed) {
    if (!files.includes(path)) report('package.json', 'pack', `${path} is not in the package (npm pack --dry-run), so the image would lack it${path.startsWith('dist/') ? ': run `npm run build` first' : ': check "files" in package.json'}`);
  }
}

async function cli(): Promise<void> {
  const args = process.argv.slice(2);
  const rootIndex = args.indexOf('--root');
  const root = rootIndex >= 0 ? (args[rootIndex + 1] ?? '.') : '.';
  const problems = await checkDeploy({ root, pack: !args.includes('--no-pack') });
  for (const p of problems) console.error(`${p.file}: [${p.rule}] ${p.message}`);
  if (problems.length > 0) {
    console.error(`check:deploy: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    process.exitCode = 1;
  } else console.log('check:deploy: Dockerfile, docker-compose.yml, deploy/kubernetes and the package are sound (validated offline; no image was built: this machine has no Docker engine)');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await cli();
