/**
 * `kairos jobs add --shell … --sh`: a /bin/sh command line from the CLI (issue #14, item 12's
 * leftover: the option existed only in the SQL API). Without --sh the same pipeline is an argv
 * command the splitter refuses at definition; --sh without --shell is bad input.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers.js';
import { kairos } from './run-cli.js';
import { drain } from '../../src/testing/index.js';

const db = await fixture();
const dir = mkdtempSync(join(tmpdir(), 'kairos-cli-sh-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const add = (...args: string[]) => kairos(['jobs', 'add', ...args, '--database-url', db.connectionString, '--schema', db.schema]);

test('jobs add --shell … --sh stores a /bin/sh script that runs as written; without --sh the pipeline is refused when defined', async () => {
  const out = join(dir, 'out.txt');
  const script = `echo kairos | tr k K > ${out}`;
  const refused = await add('argv-pipe', '--shell', script);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /\|/);
  assert.equal(await db.count('jobs', "job_name = 'argv-pipe'"), 0, 'nothing stored');
  const saved = await add('sh-pipe', '--shell', script, '--sh');
  assert.equal(saved.code, 0, saved.stderr);
  const { rows } = await db.pool.query(`SELECT options FROM "${db.schema}".jobs WHERE job_name = 'sh-pipe'`);
  assert.deepEqual(rows[0].options, { shell: true });
  const node = db.node({ allowShell: true });
  await node.trigger('sh-pipe');
  assert.equal(await drain(node), 1);
  assert.equal(readFileSync(out, 'utf8'), 'Kairos\n', 'the pipeline and the redirection ran');
});

test('--sh without --shell is bad input (exit 2), nothing stored', async () => {
  const result = await add('sql-sh', '--sql', 'SELECT 1', '--sh');
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--sh applies to --shell only/);
  assert.equal(await db.count('jobs', "job_name = 'sql-sh'"), 0);
});
