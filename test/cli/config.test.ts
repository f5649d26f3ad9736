import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { AgentConfigError, loadAgentConfig, redactConfig, type AgentConfig } from '../../src/cli/config.js';
import { KairosValidationError } from '../../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'kairos-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Write a YAML file and return its path. */
function yamlFile(text: string): string {
  const path = join(dir, `config-${(files += 1)}.yaml`);
  writeFileSync(path, text);
  return path;
}

function load(flags: Record<string, unknown> = {}, env: Record<string, string> = {}, yaml?: string): Promise<AgentConfig> {
  return loadAgentConfig({ flags, env, ...(yaml === undefined ? {} : { configFile: yamlFile(yaml) }) });
}

/** Assert that loading fails with an AgentConfigError holding a problem for `field` whose message matches. */
async function assertProblem(loading: Promise<unknown>, field: string, pattern: RegExp): Promise<AgentConfigError> {
  let caught: unknown;
  await loading.catch((error: unknown) => (caught = error));
  assert.ok(caught instanceof AgentConfigError, `an AgentConfigError, got ${String(caught)}`);
  assert.ok(caught instanceof KairosValidationError);
  const problem = caught.problems.find((p) => p.field === field);
  assert.ok(problem, `a problem for ${field} among: ${caught.message}`);
  assert.ok(problem instanceof KairosValidationError);
  assert.match(problem.message, pattern);
  return caught;
}

const DEFAULTS: AgentConfig = {
  databaseUrl: null, listenUrl: null, schema: 'kairos', concurrency: 10, queues: ['default'], pollInterval: 5000, allowShell: false, preparedStatements: true, migrate: false,
  nodeName: null, nodeTags: [], logLevel: 'info', logFormat: 'auto', tasks: [], shutdownTimeout: 30_000, connections: {}, notes: [],
};

test('defaults when nothing is given', async () => {
  assert.deepEqual(await load(), DEFAULTS);
  assert.deepEqual(await load({}, {}, ''), DEFAULTS, 'an empty file');
  assert.deepEqual(await load({}, {}, 'kairos:\n  concurrency:\n  queues: ~\n'), DEFAULTS, 'empty values mean the default');
  assert.deepEqual(await load({}, { DATABASE_URL: '', KAIROS_CONCURRENCY: '  ' }), DEFAULTS, 'empty variables count as unset');
});

describe('precedence: flags over environment over file over defaults', () => {
  // key: [YAML text of the value, expected from the file, env value, expected from env, flag value, expected from the flag]
  const url = (who: string): string => `postgres://${who}@db.example.com:5432/app`;
  const cases: Record<string, [string, unknown, string | undefined, unknown, unknown, unknown]> = {
    databaseUrl: [url('file'), url('file'), url('env'), url('env'), url('flag'), url('flag')],
    schema: ['from_file', 'from_file', 'from_env', 'from_env', 'from_flag', 'from_flag'],
    concurrency: ['5', 5, '4', 4, '3', 3],
    queues: ['[y1, "y 2"]', ['y1', 'y 2'], 'e1, e2,', ['e1', 'e2'], ['f1,f2', 'f3', 'f1'], ['f1', 'f2', 'f3']],
    pollInterval: ['4', 4000, '3', 3000, '2s', 2000],
    allowShell: ['true', true, 'FALSE', false, true, true],
    migrate: ['true', true, undefined, undefined, false, false],
    preparedStatements: ['false', false, '1', true, 'false', false],
    nodeName: ['file-node', 'file-node', 'env node', 'env node', 'flag-node', 'flag-node'],
    nodeTags: ['[d, "region=eu"]', ['d', 'region=eu'], 'c', ['c'], 'a,b', ['a', 'b']],
    logLevel: ['error', 'error', 'WARN', 'warn', 'debug', 'debug'],
    logFormat: ['json', 'json', 'pretty', 'pretty', 'auto', 'auto'],
    tasks: ['[./y, "@acme/jobs"]', [join(dir, 'y'), '@acme/jobs'], '/abs/e', ['/abs/e'], ['./f', '../g'], [resolve('f'), resolve('../g')]],
    shutdownTimeout: ['2.5', 2500, '0', 0, '1m', 60_000],
    connections: [`{ a: "${url('a')}", b: "${url('b')}" }`, { a: url('a'), b: url('b') }, undefined, undefined, [`a=${url('flag')}`], { a: url('flag'), b: url('b') }],
  };
  const envNames: Record<string, string> = {
    databaseUrl: 'DATABASE_URL', schema: 'KAIROS_SCHEMA', concurrency: 'KAIROS_CONCURRENCY', queues: 'KAIROS_QUEUES', pollInterval: 'KAIROS_POLL_INTERVAL',
    allowShell: 'KAIROS_ALLOW_SHELL', preparedStatements: 'KAIROS_PREPARED_STATEMENTS', nodeName: 'KAIROS_NODE_NAME', nodeTags: 'KAIROS_NODE_TAGS', logLevel: 'KAIROS_LOG_LEVEL', logFormat: 'KAIROS_LOG_FORMAT',
    tasks: 'KAIROS_TASKS', shutdownTimeout: 'KAIROS_SHUTDOWN_TIMEOUT',
  };
  const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

  for (const [key, [yaml, fromFile, envValue, fromEnv, flagValue, fromFlag]] of Object.entries(cases)) {
    test(key, async () => {
      const file = `${snake(key)}: ${yaml}\n`;
      const env: Record<string, string> = envValue === undefined ? {} : { [envNames[key] as string]: envValue };
      assert.deepEqual((await load({}, {}, file))[key as keyof AgentConfig], fromFile, 'from the file');
      if (envValue !== undefined) assert.deepEqual((await load({}, env, file))[key as keyof AgentConfig], fromEnv, 'env over file');
      assert.deepEqual((await load({ [key]: flagValue }, env, file))[key as keyof AgentConfig], fromFlag, 'flag over env and file');
      // Each layer must change the value, or the test would not show which one won.
      assert.notDeepEqual(fromFlag, envValue === undefined ? fromFile : fromEnv);
      if (envValue !== undefined) assert.notDeepEqual(fromEnv, fromFile);
    });
  }
});

describe('YAML layouts', () => {
  const settings = 'database_url: postgres://u@h/d\nconcurrency: 7\nqueues: [mail]\npoll_interval: 250ms\nallow_shell: true\nlog_level: 3\n';
  const expected = { ...DEFAULTS, databaseUrl: 'postgres://u@h/d', concurrency: 7, queues: ['mail'], pollInterval: 250, allowShell: true, logLevel: 'error' };

  test('flat and nested under kairos: read the same', async () => {
    assert.deepEqual(await load({}, {}, settings), expected);
    const nested = `other_program:\n  concurrency: 99\nkairos:\n${settings.replace(/^/gm, '  ').trimEnd()}\n`;
    assert.deepEqual(await load({}, {}, nested), expected, 'other top-level sections are left alone');
  });

  test('numeric log levels: 0=debug … 3=error in a Kairos file, strings only elsewhere', async () => {
    assert.equal((await load({}, {}, 'log_level: 0')).logLevel, 'debug');
    assert.equal((await load({}, {}, 'kairos:\n  log_level: 1')).logLevel, 'info');
    await assertProblem(load({}, {}, 'log_level: 4'), 'logLevel', /\(or 0=debug, 1=info, 2=warn, 3=error\), got number 4$/);
    await assertProblem(load({}, { KAIROS_LOG_LEVEL: '1' }), 'logLevel', /^Expected `logLevel` \(from KAIROS_LOG_LEVEL\) to be one of debug, info, warn, error, got "1"$/);
  });

  test("pgAgent's file: a URL from db_*, poll_time in seconds, its log levels, ignored keys noted", async () => {
    const path = yamlFile('pgagent:\n  db_host: db.example.com\n  db_port: 5433\n  db_name: jobs\n  db_user: agent\n  db_password: "p@ss:w/rd"\n  poll_time: 10\n  log_level: 2\n  enabled: true\n  retry_on_crash: true\n');
    const config = await loadAgentConfig({ flags: {}, env: {}, configFile: path });
    assert.equal(config.databaseUrl, 'postgresql://agent:p%40ss%3Aw%2Frd@db.example.com:5433/jobs');
    const url = new URL(config.databaseUrl);
    assert.deepEqual([decodeURIComponent(url.password), url.port, url.pathname], ['p@ss:w/rd', '5433', '/jobs']);
    assert.equal(config.pollInterval, 10_000);
    assert.equal(config.logLevel, 'debug', "pgAgent's -l numbering: ERROR=0, WARNING=1, DEBUG=2");
    assert.equal(config.notes.length, 2);
    assert.match(config.notes[0] as string, new RegExp(`^${path}: \`pgagent\\.enabled\` \\(line 9\\) is accepted for pgAgent compatibility and ignored`));
    assert.match(config.notes[1] as string, /`pgagent\.retry_on_crash` \(line 10\)/);
    assert.equal((await load({}, {}, 'pgagent:\n  log_level: 0')).logLevel, 'error');
    assert.equal((await load({}, { DATABASE_URL: 'postgres://env@h/d' }, 'pgagent:\n  db_host: h')).databaseUrl, 'postgres://env@h/d', 'env over the file');
    assert.equal((await load({}, {}, 'pgagent:\n  db_host: /var/run/postgresql\n  db_name: jobs')).databaseUrl, 'postgresql:///jobs?host=%2Fvar%2Frun%2Fpostgresql');
    assert.equal((await load({}, {}, 'db_host: "::1"\ndb_port: "5432"')).databaseUrl, 'postgresql://[::1]:5432', 'pgAgent keys in a flat file');
  });

  test('conflicting spellings of one setting are refused', async () => {
    await assertProblem(load({}, {}, 'poll_interval: 5s\npoll_time: 5'), 'pollInterval', /`poll_time` .* \(line 2\) repeats `poll_interval` under another name/);
    await assertProblem(load({}, {}, 'database_url: postgres://h/d\ndb_host: h'), 'databaseUrl', /either `database_url` or pgAgent's `db_\*` settings, not both/);
    await assertProblem(load({}, {}, 'pgagent:\n  db_port: 5432'), 'db_host', /to give `db_host` along with `db_port`/);
    await assertProblem(load({}, {}, 'concurrency: 2\nkairos:\n  queues: [a]'), 'concurrency', /`concurrency` in .* \(line 1\) is outside the `kairos:` section/);
  });
});

describe('bad values say where they came from', () => {
  // key: [bad env/flag text, bad YAML text, expected-text fragment]
  const bad: Record<string, [string, string, RegExp]> = {
    databaseUrl: ['mysql://h/d', 'localhost', /a PostgreSQL URL such as/],
    schema: ['Bad-Schema', 'pg_x', /a lower-case identifier/],
    concurrency: ['lots', '0', /an integer from 1 to 10000/],
    queues: [',', '[]', /at least one name/],
    pollInterval: ['10 parsecs', '5000', /a duration from 100ms to 1h, such as "10s" \(a number without a unit is seconds\)/],
    allowShell: ['yes', 'maybe', /true or false \(or 1 or 0\)/],
    migrate: ['sure', '2', /true or false/],
    preparedStatements: ['off', 'maybe', /true or false \(or 1 or 0\)/],
    nodeName: ['bell\u0007', '""', /a name of 1-200 characters without control characters/],
    nodeTags: ['has space', '[ok, "x y"]', /a tag of 1-100 characters without spaces or commas/],
    logLevel: ['verbose', 'trace', /one of debug, info, warn, error/],
    logFormat: ['xml', 'xml', /one of json, pretty, auto/],
    tasks: ['', '{ a: 1 }', /a list \(YAML\) or a comma-separated string|a module or folder path/],
    shutdownTimeout: ['-1s', '-1', /a duration from 0ms to 1h/],
    connections: ['bad name=postgres://h/d', '{ x: "mysql://u:hunter2@h/d" }', /a name of letters, digits|a PostgreSQL URL/],
  };
  const envNames: Record<string, string> = {
    databaseUrl: 'DATABASE_URL', schema: 'KAIROS_SCHEMA', concurrency: 'KAIROS_CONCURRENCY', queues: 'KAIROS_QUEUES', pollInterval: 'KAIROS_POLL_INTERVAL',
    allowShell: 'KAIROS_ALLOW_SHELL', preparedStatements: 'KAIROS_PREPARED_STATEMENTS', nodeName: 'KAIROS_NODE_NAME', nodeTags: 'KAIROS_NODE_TAGS', logLevel: 'KAIROS_LOG_LEVEL', logFormat: 'KAIROS_LOG_FORMAT',
    shutdownTimeout: 'KAIROS_SHUTDOWN_TIMEOUT',
  };
  const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const field = (key: string): RegExp => new RegExp(`^${key}(\\[\\d+\\]|\\.[\\w ]+)?$`);

  for (const [key, [flagOrEnv, yaml, expected]] of Object.entries(bad)) {
    test(key, async () => {
      const check = async (loading: Promise<unknown>, from: string): Promise<void> => {
        const error = await loading.then(() => assert.fail(`${key} from ${from} was accepted`), (e: unknown) => e);
        assert.ok(error instanceof AgentConfigError, String(error));
        assert.equal(error.problems.length, 1, error.message);
        const [problem] = error.problems as [KairosValidationError];
        assert.match(problem.field, field(key));
        assert.ok(problem.message.startsWith(`Expected \`${problem.field}\` (from ${from}) to be `), problem.message);
        assert.match(problem.message, expected);
        assert.match(problem.message, /, got .+$/);
      };
      // Any comma list is a valid list of tasks, so a bad one can only come from the file.
      const flag = key === 'connections' ? [flagOrEnv] : flagOrEnv;
      if (key !== 'tasks') await check(load({ [key]: flag }), `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      if (envNames[key]) await check(load({}, { [envNames[key] as string]: flagOrEnv }), envNames[key] as string);
      const path = yamlFile(`kairos:\n  ${snake(key)}: ${yaml}\n`);
      await check(loadAgentConfig({ flags: {}, env: {}, configFile: path }), `${path}:kairos.${snake(key)} at line 2`);
    });
  }

  test('one message exactly as documented', async () => {
    await assertProblem(load({}, { KAIROS_CONCURRENCY: 'lots' }), 'concurrency', /^Expected `concurrency` \(from KAIROS_CONCURRENCY\) to be an integer from 1 to 10000, got "lots"$/);
  });

  test('a bad value is refused even where a higher source overrides it', async () => {
    await assertProblem(load({ concurrency: '5' }, { KAIROS_CONCURRENCY: 'lots' }), 'concurrency', /from KAIROS_CONCURRENCY/);
  });

  test('every problem is reported at once', async () => {
    const error = await assertProblem(load({ schema: 'X' }, { KAIROS_QUEUES: ',' }, 'concurency: 3\nlog_format: xml\n'), 'schema', /from --schema/);
    assert.equal(error.problems.length, 4, error.message);
    assert.match(error.message, /^4 problems in the agent configuration:\n {2}- /);
  });

  test('passwords never appear in messages', async () => {
    const error = await assertProblem(load({}, { DATABASE_URL: 'mysql://u:hunter2@h/d' }), 'databaseUrl', /got "mysql:\/\/u:\*\*\*@h\/d"$/);
    assert.doesNotMatch(error.message, /hunter2/);
    await assertProblem(load({}, {}, 'connections:\n  x: "mysql://u:hunter2@h/d"'), 'connections.x', /got "mysql:\/\/u:\*\*\*@h\/d"$/);
    const numeric = await assertProblem(load({}, {}, 'pgagent:\n  db_host: h\n  db_password: 123456'), 'db_password', /quote it.*got a number \(not shown\)$/);
    assert.doesNotMatch(numeric.message, /123456/);
  });
});

describe('file problems', () => {
  test('unknown keys are errors naming the key, the file and the line', async () => {
    const path = yamlFile('kairos:\n  concurency: 3\n  pollInterval: 5s\n  frobnicate: true\n');
    const loading = loadAgentConfig({ flags: {}, env: {}, configFile: path });
    await assertProblem(loading, 'kairos.concurency', new RegExp(`^Unknown setting \`concurency\` in ${path} \\(line 2\\); did you mean \`concurrency\`\\?$`));
    await assertProblem(loadAgentConfig({ flags: {}, env: {}, configFile: path }), 'kairos.pollInterval', /did you mean `poll_interval`\?/);
    await assertProblem(loadAgentConfig({ flags: {}, env: {}, configFile: path }), 'kairos.frobnicate', /\(line 4\); known settings: database_url, listen_url, schema,/);
    await assertProblem(load({}, {}, 'pgagent:\n  db_hots: h'), 'pgagent.db_hots', /did you mean `db_host`/);
  });

  test('a missing or unreadable file is an error with its path', async () => {
    const missing = join(dir, 'missing.yaml');
    await assertProblem(loadAgentConfig({ flags: {}, env: {}, configFile: missing }), 'configFile', new RegExp(`^Cannot read the configuration file ${missing}: no such file$`));
    await assertProblem(loadAgentConfig({ flags: {}, env: {}, configFile: dir }), 'configFile', /: it is a directory$/);
    if (process.getuid?.() !== 0) {
      const locked = yamlFile('concurrency: 1');
      chmodSync(locked, 0o000);
      await assertProblem(loadAgentConfig({ flags: {}, env: {}, configFile: locked }), 'configFile', /permission denied/);
    }
  });

  test("invalid YAML is an error with the path and the parser's line and column", async () => {
    const path = yamlFile('kairos:\n  queues: [a,\n  concurrency: : 3\n');
    await assertProblem(loadAgentConfig({ flags: {}, env: {}, configFile: path }), 'configFile', new RegExp(`^Invalid YAML in ${path}: .* at line 3, column \\d+`));
    await assertProblem(load({}, {}, 'concurrency: 1\nconcurrency: 2\n'), 'configFile', /Map keys must be unique at line 2, column 1/);
    await assertProblem(load({}, {}, '- a\n- b\n'), 'configFile', /to be a YAML mapping of settings, got an array of length 2/);
    await assertProblem(load({}, {}, 'kairos: 5\n'), 'configFile', /Expected `kairos` in .* \(line 1\) to be a mapping of settings, got number 5/);
    await assertProblem(load({}, {}, 'kairos: {}\npgagent: {}\n'), 'configFile', /one of `kairos:` or `pgagent:`, not both/);
  });
});

describe('redactConfig', () => {
  test('replaces passwords in URLs with *** and leaves the config untouched', async () => {
    const config = await load({ connections: ['rep=postgres://r:s3cret@h/d', 'q=postgresql://h/d?user=x&password=s3cret'] }, { DATABASE_URL: 'postgres://agent:hunter2@db:5432/app?sslmode=require' });
    const redacted = redactConfig(config);
    assert.equal(redacted.databaseUrl, 'postgres://agent:***@db:5432/app?sslmode=require');
    assert.deepEqual(redacted.connections, { rep: 'postgres://r:***@h/d', q: 'postgresql://h/d?user=x&password=***' });
    assert.doesNotMatch(JSON.stringify(redacted), /hunter2|s3cret/);
    assert.equal(config.databaseUrl, 'postgres://agent:hunter2@db:5432/app?sslmode=require', 'the config itself keeps the password');
    assert.equal(redacted.concurrency, 10);
    assert.equal(redactConfig(DEFAULTS).databaseUrl, null);
    assert.equal(redactConfig({ ...DEFAULTS, databaseUrl: 'postgres://u@h/d' }).databaseUrl, 'postgres://u@h/d', 'nothing to hide');
  });
});

test('the LISTEN URL (issue #15): --listen-url, KAIROS_LISTEN_URL or listen_url, a postgres:// URL or refused', async () => {
  assert.equal((await load({ listenUrl: 'postgres://flag@h/d' }, { KAIROS_LISTEN_URL: 'postgres://env@h/d' }, 'listen_url: postgres://file@h/d')).listenUrl, 'postgres://flag@h/d');
  assert.equal((await load({}, { KAIROS_LISTEN_URL: 'postgres://env@h/d' }, 'listen_url: postgres://file@h/d')).listenUrl, 'postgres://env@h/d');
  assert.equal((await load({}, {}, 'listen_url: postgres://file@h/d')).listenUrl, 'postgres://file@h/d');
  assert.equal((await load()).listenUrl, null);
  await assertProblem(load({}, { KAIROS_LISTEN_URL: 'mysql://h/d' }), 'listenUrl', /a PostgreSQL URL such as postgres:\/\/user@host:5432\/db/);
  await assertProblem(load({}, {}, 'listen_ur: postgres://h/d'), 'listen_ur', /did you mean `listen_url`\?/);
});
