/**
 * scripts/check-deploy.ts: the shipped Dockerfile, docker-compose.yml and Kubernetes manifests
 * pass, and each rule fails, with a message that says what to fix, on a copy broken on purpose.
 * Every broken case must add problems of its own rule and no other: a rule that never fires, or a
 * change that trips unrelated rules, fails the test.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { checkDeploy, parseDockerfile, type DeployProblem } from '../../scripts/check-deploy.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML */
type Obj = Record<string, any>;

/** A copy of the deployment files; the build context (src, sql, …) is linked, not copied. */
async function copyProject(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kairos-deploy-'));
  for (const f of ['Dockerfile', '.dockerignore', 'docker-compose.yml', 'deploy']) await cp(join(ROOT, f), join(dir, f), { recursive: true });
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'bin', 'sql']) await symlink(join(ROOT, f), join(dir, f));
  return dir;
}

const key = (p: DeployProblem): string => `${p.file}|${p.rule}|${p.message}`;

describe('check-deploy', () => {
  let dir: string;
  let baseline: Set<string>;
  before(async () => {
    dir = await copyProject();
    baseline = new Set((await checkDeploy({ root: dir, pack: false })).map(key));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  /** Break a copy with `edit`, run the checker, and return the problems the edit added. */
  async function broken(edit: (root: string) => Promise<void>): Promise<DeployProblem[]> {
    const copy = await copyProject();
    try {
      await edit(copy);
      return (await checkDeploy({ root: copy, pack: false })).filter((p) => !baseline.has(key(p)));
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  }
  const text = (file: string, change: (s: string) => string) => async (root: string): Promise<void> => {
    const before = await readFile(join(root, file), 'utf8');
    const after = change(before);
    assert.notEqual(after, before, `the edit of ${file} changed nothing`);
    await writeFile(join(root, file), after);
  };
  /** Edit the `index`-th YAML document of a file as an object (comments are lost; fine for a copy). */
  const yaml = (file: string, change: (o: Obj) => void, index = 0) => async (root: string): Promise<void> => {
    const docs = parseAllDocuments(await readFile(join(root, file), 'utf8'), { merge: true }).map((d) => d.toJS({ maxAliasCount: 100 }) as Obj);
    change(docs[index] as Obj);
    await writeFile(join(root, file), docs.map((d) => stringify(d, { aliasDuplicateObjects: false })).join('---\n'));
  };
  const agent = (d: Obj): Obj => d.spec.template.spec.containers[0];
  /** [what is broken, the rule that must fail (and any other rule the break rightly trips), the message, the edit] */
  const cases: Array<[string, string | string[], RegExp, (root: string) => Promise<void>]> = [
    // Kubernetes
    ['a field of the wrong type', 'schema', /replicas must be integer/, yaml('deploy/kubernetes/deployment.yaml', (d) => (d.spec.replicas = 'three'))],
    ['a YAML syntax error', 'yaml', /Invalid YAML/, text('deploy/kubernetes/pdb.yaml', (s) => s.replace('maxUnavailable: 1', 'maxUnavailable: [1'))],
    ['a kind without a model', 'kind', /Unknown apiVersion\/kind example\.com\/v1\/Widget/, text('deploy/kubernetes/pdb.yaml', (s) => `${s}---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  labels:\n    app.kubernetes.io/name: kairos\n`)],
    ['a missing readiness probe', 'probes', /to have a readinessProbe/, yaml('deploy/kubernetes/deployment.yaml', (d) => delete agent(d).readinessProbe)],
    ['an agent liveness probe elsewhere than /healthz', 'probes', /livenessProbe .* to GET \/healthz/, yaml('deploy/kubernetes/deployment.yaml', (d) => (agent(d).livenessProbe.httpGet.path = '/metrics'))],
    ['a probe on an undeclared port', 'ports', /readinessProbe .* port 9999, which is not one of its containerPorts/, yaml('deploy/kubernetes/deployment.yaml', (d) => (agent(d).readinessProbe.httpGet.port = 9999))],
    ['no memory limit', 'resources', /resources\.limits\.memory/, yaml('deploy/kubernetes/deployment.yaml', (d) => delete agent(d).resources.limits.memory)],
    ['runAsNonRoot off', 'non-root', /runAsNonRoot: true/, yaml('deploy/kubernetes/dashboard.yaml', (d) => (d.spec.template.spec.securityContext.runAsNonRoot = false))],
    ['a writable root filesystem', 'security-context', /readOnlyRootFilesystem: true/, yaml('deploy/kubernetes/deployment.yaml', (d) => (d.spec.template.spec.initContainers[0].securityContext.readOnlyRootFilesystem = false))],
    ['capabilities kept', 'security-context', /drop all capabilities/, yaml('deploy/kubernetes/deployment.yaml', (d) => (agent(d).securityContext.capabilities.drop = ['NET_RAW']))],
    ['the service account token mounted', 'service-account-token', /automountServiceAccountToken: false/, yaml('deploy/kubernetes/deployment.yaml', (d) => delete d.spec.template.spec.automountServiceAccountToken)],
    ['an image on :latest', 'image-tag', /pin a version, got "kairos:latest"/, yaml('deploy/kubernetes/deployment.yaml', (d) => (agent(d).image = 'kairos:latest'))],
    ['an image without a tag', 'image-tag', /pin an image tag, got "kairos"/, yaml('deploy/kubernetes/dashboard.yaml', (d) => (d.spec.template.spec.containers[0].image = 'kairos'))],
    ['an image of another release', 'image-version', /Kairos image of this release \(0\.1\.0\), got "registry\.example\.com\/kairos:0\.0\.9"/, yaml('deploy/kubernetes/dashboard.yaml', (d) => (d.spec.template.spec.containers[0].image = 'registry.example.com/kairos:0.0.9'))],
    ['a kustomization tag of another release', 'image-version', /images\[kairos\] to use the Kairos image of this release/, yaml('deploy/kubernetes/kustomization.yaml', (d) => (d.images[0].newTag = '0.2.0'))],
    ['a selector that misses the pods', 'selectors', /selector\.matchLabels does not match the pod template/, yaml('deploy/kubernetes/deployment.yaml', (d) => (d.spec.selector.matchLabels['app.kubernetes.io/component'] = 'agents'))],
    ['a PDB selecting nothing', 'selectors', /PodDisruptionBudget kairos-agent: spec\.selector\.matchLabels matches no workload/, yaml('deploy/kubernetes/pdb.yaml', (d) => (d.spec.selector.matchLabels['app.kubernetes.io/component'] = 'agnet'))],
    ['a PDB that blocks every drain', 'pdb', /allows no disruption .* drains would block forever/, yaml('deploy/kubernetes/pdb.yaml', (d) => { delete d.spec.maxUnavailable; d.spec.minAvailable = 3; })],
    ['a Service port to nowhere', 'ports', /targets metrics, which no container/, yaml('deploy/kubernetes/service.yaml', (d) => (d.spec.ports[0].targetPort = 'metrics'))],
    ['a ServiceMonitor on an unknown port', 'ports', /endpoint port web is not a port name/, yaml('deploy/kubernetes/servicemonitor.yaml', (d) => (d.spec.endpoints[0].port = 'web'))],
    ['a missing Secret key', 'references', /key database_url of Secret kairos, which has only/, yaml('deploy/kubernetes/deployment.yaml', (d) => (agent(d).env[0].valueFrom.secretKeyRef.key = 'database_url'))],
    ['a missing ConfigMap', ['references', 'agent-config'], /ConfigMap kairos-conf, which is not in deploy\/kubernetes/, yaml('deploy/kubernetes/deployment.yaml', (d) => (d.spec.template.spec.volumes[0].configMap.name = 'kairos-conf'))],
    ['a grace period shorter than the drain', 'grace-period', /terminationGracePeriodSeconds .* \(30\) to exceed the agent's shutdown_timeout \(30s\)/, yaml('deploy/kubernetes/deployment.yaml', (d) => (d.spec.template.spec.terminationGracePeriodSeconds = 30))],
    ['an agent port that is not a containerPort', 'ports', /serves \/healthz and \/metrics on port 9000, which is not a containerPort \(9464\)/, yaml('deploy/kubernetes/deployment.yaml', (d) => agent(d).env.push({ name: 'KAIROS_HTTP_PORT', value: '9000' }))],
    ['a probe server on loopback', 'agent-http', /binds 127\.0\.0\.1, where neither the kubelet's probes nor Prometheus reach it/, yaml('deploy/kubernetes/deployment.yaml', (d) => agent(d).env.push({ name: 'KAIROS_HTTP_HOST', value: '127.0.0.1' }))],
    ['an agent config the agent refuses', 'agent-config', /Expected `concurrency` .* to be an integer/, yaml('deploy/kubernetes/configmap.yaml', (d) => (d.data['kairos.yaml'] = d.data['kairos.yaml'].replace('concurrency: 10', 'concurrency: lots')))],
    ['a manifest left out of the kustomization', 'kustomization', /pdb\.yaml is not listed in resources/, yaml('deploy/kubernetes/kustomization.yaml', (d) => (d.resources = d.resources.filter((r: string) => r !== 'pdb.yaml')))],
    ['a kustomization resource that does not exist', 'kustomization', /Resource hpa\.yaml is listed but there is no/, yaml('deploy/kubernetes/kustomization.yaml', (d) => d.resources.push('hpa.yaml'))],
    ['an object without the name label', 'labels', /Namespace kairos to carry the label app\.kubernetes\.io\/name/, yaml('deploy/kubernetes/namespace.yaml', (d) => delete d.metadata.labels['app.kubernetes.io/name'])],
    // Dockerfile
    ['a Dockerfile syntax error', 'dockerfile-lint', /line \d+: /, text('Dockerfile', (s) => s.replace('EXPOSE 9464', 'EXPOSE 9464/xyz'))],
    ['a base image on :latest', 'base-image-pinned', /pinned to a version tag .* got "node:latest"/, text('Dockerfile', (s) => s.replace('FROM node:20.19-bookworm-slim AS deps', 'FROM node:latest AS deps'))],
    ['a base image without a version', 'base-image-pinned', /got "node:bookworm-slim"/, text('Dockerfile', (s) => s.replace('FROM node:20.19-bookworm-slim AS runtime', 'FROM node:bookworm-slim AS runtime'))],
    ['a single stage', 'multi-stage', /multi-stage build/, text('Dockerfile', (s) => `FROM node:20.19-bookworm-slim\nRUN npm ci --omit=dev\n${s.slice(s.indexOf('RUN apt-get')).replace(/^COPY --from=.*$/gm, '')}`)],
    ['running as root', 'non-root', /USER to be a non-root user, got root/, text('Dockerfile', (s) => s.replace('USER 1000:1000', 'USER root'))],
    ['no USER', 'non-root', /Expected a USER instruction/, text('Dockerfile', (s) => s.replace('USER 1000:1000\n', ''))],
    ['no HEALTHCHECK', 'healthcheck', /Expected a HEALTHCHECK/, text('Dockerfile', (s) => s.replace('HEALTHCHECK --interval', 'HEALTHCHECK NONE\n# --interval').replace(/^ {2}CMD \["node", "-e".*$/m, ''))],
    ['a shell-form ENTRYPOINT', 'entrypoint', /exec \(JSON\) form/, text('Dockerfile', (s) => s.replace('ENTRYPOINT ["/usr/bin/tini", "--", "kairos"]', 'ENTRYPOINT /usr/bin/tini -- kairos'))],
    ['no init as PID 1', 'init', /tini or dumb-init/, text('Dockerfile', (s) => s.replace('ENTRYPOINT ["/usr/bin/tini", "--", "kairos"]', 'ENTRYPOINT ["kairos"]'))],
    ['ADD of a URL', 'no-add-url', /ADD of a URL/, text('Dockerfile', (s) => s.replace('WORKDIR /app\nCOPY --from=deps', 'WORKDIR /app\nADD https://example.com/tool.tgz /tmp/\nCOPY --from=deps'))],
    ['dev dependencies in the runtime', 'production-deps', /npm ci --omit=dev/, text('Dockerfile', (s) => s.replace('npm ci --omit=dev --omit=optional', 'npm ci --omit=optional'))],
    ['a COPY of a missing path', 'copy-source', /COPY source assets does not exist/, text('Dockerfile', (s) => s.replace('COPY sql ./sql', 'COPY sql ./sql\nCOPY assets ./assets'))],
    ['a COPY of an ignored path', 'copy-source', /COPY source docs is excluded by \.dockerignore/, async (root) => { await mkdir(join(root, 'docs')); await text('Dockerfile', (s) => s.replace('COPY sql ./sql', 'COPY sql ./sql\nCOPY docs ./docs'))(root); }],
    ['EXPOSE of another port', 'ports', /Expected EXPOSE 9464 \(KAIROS_HTTP_PORT\), got 8080/, text('Dockerfile', (s) => s.replace('EXPOSE 9464', 'EXPOSE 8080'))],
    ['no probe server in the image', ['agent-http'], /ENV KAIROS_HTTP_PORT/, text('Dockerfile', (s) => s.replace(' \\\n    KAIROS_HTTP_PORT=9464', ''))],
    ['node_modules in the build context', 'context', /exclude node_modules/, text('.dockerignore', (s) => s.replace(/^node_modules$/m, '!node_modules'))],
    // docker-compose.yml
    ['PostgreSQL without a healthcheck', ['healthcheck', 'depends-on'], /service postgres to have a healthcheck/, yaml('docker-compose.yml', (d) => delete d.services.postgres.healthcheck)],
    ['an old PostgreSQL', 'postgres', /PostgreSQL 16 or 17, got postgres:15/, yaml('docker-compose.yml', (d) => (d.services.postgres.image = 'postgres:15'))],
    ['a port on every interface', 'ports', /publishes 8080:8080 on every interface/, yaml('docker-compose.yml', (d) => (d.services.dashboard.ports = ['8080:8080']))],
    ['agents not waiting for the migration', 'depends-on', /depend on migrate with condition service_completed_successfully/, yaml('docker-compose.yml', (d) => (d.services.agent.depends_on.migrate.condition = 'service_started'))],
    ['an unknown depends_on condition', 'depends-on', /condition must be one of .* got service_done/, yaml('docker-compose.yml', (d) => (d.services.dashboard.depends_on.migrate.condition = 'service_done'))],
    ['a single agent', 'agents', /several agent nodes .* got 1/, yaml('docker-compose.yml', (d) => delete d.services.agent.deploy)],
    ['no migrate service', 'migrate', /one-shot service running `kairos migrate`/, yaml('docker-compose.yml', (d) => { delete d.services.migrate; delete d.services.agent.depends_on.migrate; delete d.services.dashboard.depends_on; })],
    ['a restarting migration', 'migrate', /restart "no" or "on-failure", got always/, yaml('docker-compose.yml', (d) => (d.services.migrate.restart = 'always'))],
    ['a healthcheck on the wrong port', 'healthcheck', /asks port 9000, but the agent serves \/healthz on 9464/, yaml('docker-compose.yml', (d) => (d.services.agent.healthcheck.test[3] = d.services.agent.healthcheck.test[3].replace('9464', '9000')))],
    ['a compose image of another release', 'image-version', /service migrate to use the Kairos image of this release/, yaml('docker-compose.yml', (d) => (d.services.migrate.image = 'kairos:0.0.9'))],
    ['a short stop_grace_period', 'grace-period', /stop_grace_period of service agent \(20s\)/, yaml('docker-compose.yml', (d) => (d.services.agent.stop_grace_period = '20s'))],
    ['no DATABASE_URL', 'environment', /service migrate to set DATABASE_URL/, yaml('docker-compose.yml', (d) => delete d.services.migrate.environment.DATABASE_URL)],
    ['an agent config file that is not mounted', 'agent-config', /reads --config \/etc\/kairos\/kairos\.yaml, but no existing file/, yaml('docker-compose.yml', (d) => (d.services.agent.volumes = []))],
  ];
  for (const [name, rules, message, edit] of cases) {
    const [rule, ...alsoTripped] = [rules].flat();
    test(`${name} fails rule ${rule}`, async () => {
      const added = await broken(edit);
      assert.ok(added.length > 0, `expected a [${rule}] problem, got none`);
      for (const p of added) assert.ok(p.rule === rule || alsoTripped.includes(p.rule), `unexpected extra problem: ${p.file}: [${p.rule}] ${p.message}`);
      assert.ok(added.some((p) => p.rule === rule && message.test(p.message)), `no [${rule}] message matches ${message}:\n${added.map((p) => p.message).join('\n')}`);
    });
  }
});

test('the shipped files pass every check, the package included', async () => {
  const problems = await checkDeploy({ root: ROOT });
  assert.deepEqual(problems.map((p) => `${p.file}: [${p.rule}] ${p.message}`), []);
});

test('a package whose "files" leave out dist fails the pack rule', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kairos-pack-'));
  try {
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'kairos-pack-check', version: '0.0.0', files: ['bin'] }));
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, 'bin', 'kairos.js'), '');
    const problems = (await checkDeploy({ root: dir })).filter((p) => p.rule === 'pack');
    assert.deepEqual(problems.map((p) => p.message), [
      'dist/index.js is not in the package (npm pack --dry-run), so the image would lack it: run `npm run build` first',
      'dist/cli/index.js is not in the package (npm pack --dry-run), so the image would lack it: run `npm run build` first',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseDockerfile joins continuation lines and skips comments inside them', () => {
  const parsed = parseDockerfile('# syntax=docker/dockerfile:1\nFROM a:1 AS b\nRUN one \\\n  # note\n  && two\n\nuser 1000\n');
  assert.deepEqual(parsed, [
    { keyword: 'FROM', args: 'a:1 AS b', line: 2 },
    { keyword: 'RUN', args: 'one && two', line: 3 },
    { keyword: 'USER', args: '1000', line: 7 },
  ]);
});
