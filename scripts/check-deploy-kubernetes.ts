/**
 * Offline checks of deploy/kubernetes/: every object against the Kubernetes OpenAPI schema (the
 * `kubernetes-models` package, so no cluster and no network), then the rules a schema cannot
 * express: references that must resolve (selectors, secrets, config maps, named ports), probes,
 * resources, a locked-down security context, image tags, and a grace period longer than the
 * agent's own shutdown timeout. Used by scripts/check-deploy.ts.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { loadAgentConfig, type AgentConfig } from '../src/cli/config.js';

/** One failed rule: where, which rule, and what to do about it. */
export interface DeployProblem {
  file: string;
  rule: string;
  message: string;
}
/** Collects problems. */
export type Report = (file: string, rule: string, message: string) => void;
/** What the manifests must agree with: the image's KAIROS_* environment and the package version. */
export interface DeployContext {
  imageEnv: Record<string, string>;
  /** package.json's version: the tag of the Kairos image the files refer to. */
  version: string | undefined;
}

/** The tag of a Kairos image reference (`kairos:0.1.0`, `registry/x/kairos:0.1.0`), else undefined. */
export function kairosTag(image: string): string | undefined {
  const match = /^(?:.*\/)?kairos(?::([^/:@]+))?(?:@.*)?$/.exec(image);
  return match ? (match[1] ?? '') : undefined;
}
/** The image-version rule, shared with the compose check. */
export function checkKairosVersion(file: string, who: string, image: string, version: string | undefined, report: Report): void {
  const tag = kairosTag(image);
  if (tag && version && tag !== version) report(file, 'image-version', `Expected ${who} to use the Kairos image of this release (${version}), got "${image}"`);
}

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML; the schema check comes first */
type Obj = Record<string, any>;
interface Manifest { file: string; obj: Obj }

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace, 'v1/ConfigMap': ConfigMap, 'v1/Secret': Secret, 'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount, 'apps/v1/Deployment': Deployment, 'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job, 'batch/v1/CronJob': CronJob, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress, 'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};
/** Custom resources we ship without their schema (the operator's CRDs are not installed here). */
const OPTIONAL_CRDS = new Set(['monitoring.coreos.com/v1/ServiceMonitor']);
/** Time between the agent's drain deadline and SIGKILL: closing pools, flushing logs. */
const SHUTDOWN_MARGIN_MS = 5000;

/** Check every manifest under `<root>/deploy/kubernetes`. */
export async function checkKubernetes(root: string, ctx: DeployContext, report: Report): Promise<void> {
  const dir = join(root, 'deploy', 'kubernetes');
  if (!existsSync(dir)) return report('deploy/kubernetes', 'present', 'Expected the folder deploy/kubernetes/ with the manifests, got nothing');
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const manifests: Manifest[] = [];
  let kustomization: Obj | undefined;
  for (const name of files) {
    const file = `deploy/kubernetes/${name}`;
    for (const doc of parseAllDocuments(await readFile(join(dir, name), 'utf8'))) {
      const [error] = doc.errors;
      if (error) {
        report(file, 'yaml', `Invalid YAML: ${error.message.split('\n')[0]}`);
        continue;
      }
      const obj = doc.toJS() as unknown;
      if (obj === null || obj === undefined) continue;
      if (typeof obj !== 'object' || Array.isArray(obj)) report(file, 'yaml', 'Expected each YAML document to be a Kubernetes object (a mapping)');
      else if (name === 'kustomization.yaml') kustomization = obj as Obj;
      else manifests.push({ file, obj: obj as Obj });
    }
  }
  for (const m of manifests) checkObject(m, report);
  checkKustomization(kustomization, files, manifests, ctx.version, report);
  const all = manifests.filter((m) => typeof m.obj.kind === 'string');
  for (const m of all) await checkWorkload(m, all, ctx, report);
  for (const m of all) checkSelectors(m, all, report);
}

/** Schema validation, names and labels. */
function checkObject({ file, obj }: Manifest, report: Report): void {
  const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const name = obj.metadata?.name;
  const where = `${obj.kind ?? 'object'} ${typeof name === 'string' ? name : '(no name)'}`;
  if (typeof name !== 'string' || name === '') report(file, 'metadata', `Expected ${where} to have metadata.name`);
  if (typeof obj.metadata?.labels?.['app.kubernetes.io/name'] !== 'string') report(file, 'labels', `Expected ${where} to carry the label app.kubernetes.io/name`);
  const Model = MODELS[key];
  if (!Model) {
    if (!OPTIONAL_CRDS.has(key)) report(file, 'kind', `Unknown apiVersion/kind ${key}: the checker cannot validate it (add its model to scripts/check-deploy-kubernetes.ts)`);
    return;
  }
  try {
    new Model(obj).validate();
  } catch (error) {
    report(file, 'schema', `${where} does not match the Kubernetes schema: ${(error as Error).message}`);
  }
}

/** The kustomization lists every manifest, and nothing that is not there. */
function checkKustomization(k: Obj | undefined, files: string[], manifests: Manifest[], version: string | undefined, report: Report): void {
  const file = 'deploy/kubernetes/kustomization.yaml';
  if (!k) return report(file, 'kustomization', 'Expected deploy/kubernetes/kustomization.yaml (kubectl apply -k)');
  const resources = Array.isArray(k.resources) ? (k.resources as unknown[]).map(String) : [];
  for (const r of resources) if (!files.includes(r)) report(file, 'kustomization', `Resource ${r} is listed but there is no deploy/kubernetes/${r}`);
  for (const f of files) {
    if (f === 'kustomization.yaml' || resources.includes(f)) continue;
    const optional = manifests.filter((m) => m.file.endsWith(`/${f}`)).every((m) => OPTIONAL_CRDS.has(`${m.obj.apiVersion}/${m.obj.kind}`));
    if (!optional) report(file, 'kustomization', `deploy/kubernetes/${f} is not listed in resources, so \`kubectl apply -k\` would skip it`);
  }
  for (const image of Array.isArray(k.images) ? (k.images as Obj[]) : []) {
    if (image.newTag !== undefined && (String(image.newTag) === 'latest' || String(image.newTag) === '')) report(file, 'image-tag', `Expected images[${String(image.name)}].newTag to be a version, got "${String(image.newTag)}"`);
    else if (image.newTag !== undefined && kairosTag(String(image.newName ?? image.name)) !== undefined) checkKairosVersion(file, `images[${String(image.name)}]`, `kairos:${String(image.newTag)}`, version, report);
  }
}

/** The pod template of a workload, if it is one. */
function podSpec(obj: Obj): Obj | undefined {
  if (obj.kind === 'CronJob') return obj.spec?.jobTemplate?.spec?.template?.spec;
  if (['Deployment', 'StatefulSet', 'Job'].includes(obj.kind)) return obj.spec?.template?.spec;
  return undefined;
}
function podLabels(obj: Obj): Obj {
  return (obj.kind === 'CronJob' ? obj.spec?.jobTemplate?.spec?.template : obj.spec?.template)?.metadata?.labels ?? {};
}
const find = (all: Manifest[], kind: string, name: unknown): Obj | undefined => all.find((m) => m.obj.kind === kind && m.obj.metadata?.name === name)?.obj;

/** Containers: images, resources, security, probes, references; the grace period. */
async function checkWorkload({ file, obj }: Manifest, all: Manifest[], ctx: DeployContext, report: Report): Promise<void> {
  const spec = podSpec(obj);
  if (!spec) return;
  const where = `${obj.kind} ${obj.metadata?.name}`;
  const longRunning = obj.kind === 'Deployment' || obj.kind === 'StatefulSet';
  const podSecurity = spec.securityContext ?? {};
  if (spec.automountServiceAccountToken !== false) report(file, 'service-account-token', `Expected ${where} to set automountServiceAccountToken: false (Kairos never calls the Kubernetes API)`);
  const containers: Array<{ c: Obj; init: boolean }> = [
    ...((spec.initContainers ?? []) as Obj[]).map((c) => ({ c, init: true })),
    ...((spec.containers ?? []) as Obj[]).map((c) => ({ c, init: false })),
  ];
  for (const { c, init } of containers) {
    const who = `container ${c.name} of ${where}`;
    if (checkImage(file, who, c.image, report)) checkKairosVersion(file, who, c.image as string, ctx.version, report);
    const r = c.resources ?? {};
    for (const [path, value] of [['requests.cpu', r.requests?.cpu], ['requests.memory', r.requests?.memory], ['limits.memory', r.limits?.memory]] as const) {
      if (value === undefined) report(file, 'resources', `Expected ${who} to set resources.${path}`);
    }
    const sc = c.securityContext ?? {};
    if ((sc.runAsNonRoot ?? podSecurity.runAsNonRoot) !== true) report(file, 'non-root', `Expected ${who} to run with runAsNonRoot: true (pod or container securityContext)`);
    if ((sc.runAsUser ?? podSecurity.runAsUser) === 0) report(file, 'non-root', `Expected ${who} not to set runAsUser: 0`);
    if (sc.allowPrivilegeEscalation !== false) report(file, 'security-context', `Expected ${who} to set securityContext.allowPrivilegeEscalation: false`);
    if (sc.readOnlyRootFilesystem !== true) report(file, 'security-context', `Expected ${who} to set securityContext.readOnlyRootFilesystem: true`);
    if (!((sc.capabilities?.drop ?? []) as unknown[]).includes('ALL')) report(file, 'security-context', `Expected ${who} to drop all capabilities (securityContext.capabilities.drop: [ALL])`);
    if (longRunning && !init) checkProbes(file, who, c, report);
    checkReferences(file, who, c, spec, all, report);
  }
  if (longRunning) await checkAgents(file, where, spec, all, ctx.imageEnv, report);
}

/** A named image pinned by tag or digest; false (and reported) otherwise. */
function checkImage(file: string, who: string, image: unknown, report: Report): boolean {
  if (typeof image !== 'string' || image === '') {
    report(file, 'image-tag', `Expected ${who} to name an image`);
    return false;
  }
  if (image.includes('@sha256:')) return true;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  if (tag === undefined) report(file, 'image-tag', `Expected ${who} to pin an image tag, got "${image}" (which means :latest)`);
  else if (tag === 'latest') report(file, 'image-tag', `Expected ${who} to pin a version, got "${image}": :latest changes under running pods`);
  return tag !== undefined && tag !== 'latest';
}

/** Liveness and readiness on declared ports; the agent's on /healthz and /readyz. */
function checkProbes(file: string, who: string, c: Obj, report: Report): void {
  const ports = ((c.ports ?? []) as Obj[]).flatMap((p) => [p.name, p.containerPort]).filter((p) => p !== undefined);
  for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const probe = c[kind] as Obj | undefined;
    if (!probe) {
      if (kind !== 'startupProbe') report(file, 'probes', `Expected ${who} to have a ${kind}`);
      continue;
    }
    const port = (probe.httpGet ?? probe.tcpSocket ?? probe.grpc)?.port;
    if (port !== undefined && !ports.includes(port)) report(file, 'ports', `${kind} of ${who} uses port ${String(port)}, which is not one of its containerPorts (${ports.join(', ') || 'none'})`);
  }
  const args = [...((c.command ?? []) as unknown[]), ...((c.args ?? []) as unknown[])].map(String);
  if (args[0] === 'start') {
    if (c.livenessProbe?.httpGet?.path !== '/healthz') report(file, 'probes', `Expected the livenessProbe of ${who} (a kairos agent) to GET /healthz`);
    if (c.readinessProbe?.httpGet?.path !== '/readyz') report(file, 'probes', `Expected the readinessProbe of ${who} (a kairos agent) to GET /readyz`);
  }
}

/** Secrets, config maps and their keys must exist in the set. */
function checkReferences(file: string, who: string, c: Obj, spec: Obj, all: Manifest[], report: Report): void {
  for (const env of (c.env ?? []) as Obj[]) {
    for (const [ref, kind] of [[env.valueFrom?.secretKeyRef, 'Secret'], [env.valueFrom?.configMapKeyRef, 'ConfigMap']] as const) {
      if (!ref || ref.optional === true) continue;
      const target = find(all, kind, ref.name);
      const keys = { ...(target?.data ?? {}), ...(target?.stringData ?? {}) };
      if (!target) report(file, 'references', `${who}: env ${env.name} refers to ${kind} ${ref.name}, which is not in deploy/kubernetes`);
      else if (!(ref.key in keys)) report(file, 'references', `${who}: env ${env.name} refers to key ${ref.key} of ${kind} ${ref.name}, which has only ${Object.keys(keys).join(', ') || 'no keys'}`);
    }
  }
  const volumes = (spec.volumes ?? []) as Obj[];
  for (const mount of (c.volumeMounts ?? []) as Obj[]) {
    if (!volumes.some((v) => v.name === mount.name)) report(file, 'references', `${who} mounts volume ${mount.name}, which the pod does not define`);
  }
  for (const v of volumes) {
    if (v.configMap && !v.configMap.optional && !find(all, 'ConfigMap', v.configMap.name)) report(file, 'references', `Volume ${v.name} refers to ConfigMap ${v.configMap.name}, which is not in deploy/kubernetes`);
    if (v.secret && !v.secret.optional && !find(all, 'Secret', v.secret.secretName)) report(file, 'references', `Volume ${v.name} refers to Secret ${v.secret.secretName}, which is not in deploy/kubernetes`);
  }
}

/**
 * An agent's configuration (its mounted ConfigMap over the image's and the container's
 * environment, checked by the agent's own loader): the probe server must listen where the kubelet
 * and Prometheus reach it, and the kubelet must not SIGKILL a node that is still draining.
 */
async function checkAgents(file: string, where: string, spec: Obj, all: Manifest[], imageEnv: Record<string, string>, report: Report): Promise<void> {
  for (const c of (spec.containers ?? []) as Obj[]) {
    const args = [...((c.command ?? []) as unknown[]), ...((c.args ?? []) as unknown[])].map(String);
    if (args[0] !== 'start') continue;
    const configPath = args[args.indexOf('--config') + 1];
    let fileText: string | undefined;
    if (args.includes('--config') && configPath) {
      const mount = ((c.volumeMounts ?? []) as Obj[]).find((m) => configPath.startsWith(`${String(m.mountPath).replace(/\/$/, '')}/`));
      const volume = ((spec.volumes ?? []) as Obj[]).find((v) => v.name === mount?.name);
      const map = find(all, 'ConfigMap', volume?.configMap?.name);
      fileText = map?.data?.[configPath.slice(String(mount?.mountPath).replace(/\/$/, '').length + 1)];
      if (fileText === undefined) report(file, 'agent-config', `${where}: --config ${configPath} is not a key of a mounted ConfigMap`);
    }
    const env = { ...imageEnv, ...Object.fromEntries(((c.env ?? []) as Obj[]).filter((e) => typeof e.value === 'string').map((e) => [e.name, e.value])) };
    const config = await agentConfig(fileText, env, `${file} (${where})`, report);
    if (!config) continue;
    const ports = ((c.ports ?? []) as Obj[]).map((p) => p.containerPort);
    if (config.httpPort === undefined) report(file, 'agent-http', `${where}: the agent serves no /healthz or /metrics: set KAIROS_HTTP_PORT (the image does) or http.port`);
    else if (!ports.includes(config.httpPort)) report(file, 'ports', `${where}: the agent serves /healthz and /metrics on port ${config.httpPort}, which is not a containerPort (${ports.join(', ') || 'none'})`);
    if (['127.0.0.1', 'localhost', '::1', undefined].includes(config.httpHost)) report(file, 'agent-http', `${where}: the agent's probe server binds ${config.httpHost ?? '127.0.0.1 (the default)'}, where neither the kubelet's probes nor Prometheus reach it: use 0.0.0.0 (KAIROS_HTTP_HOST)`);
    const grace = (spec.terminationGracePeriodSeconds ?? 30) * 1000;
    if (grace < config.shutdownTimeout + SHUTDOWN_MARGIN_MS) {
      report(file, 'grace-period', `Expected terminationGracePeriodSeconds of ${where} (${grace / 1000}) to exceed the agent's shutdown_timeout (${config.shutdownTimeout / 1000}s) by at least ${SHUTDOWN_MARGIN_MS / 1000}s, or the node is killed mid-drain`);
    }
  }
}

/** Load an agent configuration file's text with the agent's own loader; problems are reported. */
export async function agentConfig(text: string | undefined, env: Record<string, string>, label: string, report: Report): Promise<AgentConfig | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'kairos-check-'));
  const configFile = join(dir, 'kairos.yaml');
  try {
    if (text !== undefined) await writeFile(configFile, text);
    return await loadAgentConfig({ flags: {}, env, configFile: text === undefined ? undefined : configFile });
  } catch (error) {
    report(label, 'agent-config', `The agent would refuse this configuration: ${(error as Error).message.replaceAll(configFile, 'kairos.yaml')}`);
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const matches = (selector: Obj | undefined, labels: Obj): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Selectors that must pick something: Deployment → its pods, PDB and Service → a workload, ServiceMonitor → a Service. */
function checkSelectors({ file, obj }: Manifest, all: Manifest[], report: Report): void {
  const where = `${obj.kind} ${obj.metadata?.name}`;
  const workloads = all.filter((m) => podSpec(m.obj));
  if (obj.kind === 'Deployment' || obj.kind === 'StatefulSet') {
    if (!matches(obj.spec?.selector?.matchLabels, podLabels(obj))) report(file, 'selectors', `${where}: spec.selector.matchLabels does not match the pod template's labels`);
  } else if (obj.kind === 'PodDisruptionBudget') {
    const target = workloads.find((m) => matches(obj.spec?.selector?.matchLabels, podLabels(m.obj)));
    if (!target) return report(file, 'selectors', `${where}: spec.selector.matchLabels matches no workload's pods`);
    const replicas = target.obj.spec?.replicas ?? 1;
    if (obj.spec?.maxUnavailable === 0 || (typeof obj.spec?.minAvailable === 'number' && obj.spec.minAvailable >= replicas)) {
      report(file, 'pdb', `${where} allows no disruption of ${target.obj.kind} ${target.obj.metadata?.name} (${replicas} replicas): node drains would block forever`);
    }
  } else if (obj.kind === 'Service') {
    const target = workloads.find((m) => matches(obj.spec?.selector, podLabels(m.obj)));
    if (!target) return report(file, 'selectors', `${where}: spec.selector matches no workload's pods`);
    const ports = ((podSpec(target.obj)?.containers ?? []) as Obj[]).flatMap((c) => ((c.ports ?? []) as Obj[]).flatMap((p) => [p.name, p.containerPort]));
    for (const p of (obj.spec?.ports ?? []) as Obj[]) {
      const targetPort = p.targetPort ?? p.port;
      if (!ports.includes(targetPort)) report(file, 'ports', `${where}: port ${String(p.name ?? p.port)} targets ${String(targetPort)}, which no container of ${target.obj.kind} ${target.obj.metadata?.name} declares`);
    }
  } else if (obj.kind === 'ServiceMonitor') {
    const service = all.find((m) => m.obj.kind === 'Service' && matches(obj.spec?.selector?.matchLabels, m.obj.metadata?.labels ?? {}));
    if (!service) return report(file, 'selectors', `${where}: spec.selector.matchLabels matches no Service's labels`);
    const names = ((service.obj.spec?.ports ?? []) as Obj[]).map((p) => p.name);
    for (const e of (obj.spec?.endpoints ?? []) as Obj[]) if (!names.includes(e.port)) report(file, 'ports', `${where}: endpoint port ${String(e.port)} is not a port name of Service ${service.obj.metadata?.name}`);
  }
}
