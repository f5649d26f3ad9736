/**
 * Hostile tenants for the adversarial suite: roles granted job_scheduler (as docs/sql.md tells a
 * DBA to), a schema one of them owns for its tricks, a canary table only the agent may write, and
 * two installations to attack: one whose agent connects as a superuser (the fixture's login) and
 * one whose agent connects as the documented non-superuser owner of the tables.
 *
 * The canary is the oracle: tenants' functions try to write `current_user` into it and swallow
 * the error. A row there means tenant code ran with the agent's rights.
 */
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { Kairos, type KairosOptions } from '../../src/index.js';
import { silentLogger } from '../../src/testing/index.js';
import { KAIROS_TYPES } from '../../src/store/db.js';
import { fixture, type Fixture } from '../helpers.js';
import { asRole } from './as-role.js';

/** One installation under attack: its schema, its agent's login and a pool logged in as it. */
export interface Installation {
  schema: string;
  /** `"schema"` for SQL text. */
  s: string;
  /** Connection string of the agent's login. */
  url: string;
  /** A pool logged in as the agent's role. */
  pool: pg.Pool;
  /** The agent's role name. */
  agentRole: string;
  superuser: boolean;
  /** A node of this installation (not started), stopped after the file. */
  node(options?: Partial<KairosOptions>): Kairos;
}

/** The cast and the stage of one test file. */
export interface Stage {
  db: Fixture;
  tag: string;
  /** Tenant roles (NOLOGIN, members of job_scheduler): the attacker and a victim. */
  mallory: string;
  victor: string;
  /** A schema owned by mallory, usable by everyone (the attacker's functions and operators). */
  evil: string;
  /** public.canary_<tag>: who ran where they should not have. */
  canary: string;
  superuserInstall: Installation;
  ownerInstall: Installation;
  /** Run statements as `role` in one session of `pool` (SET ROLE). */
  as(pool: pg.Pool, role: string, sql: string, values?: unknown[]): Promise<pg.QueryResult>;
  /** Rows written into the canary so far. */
  canaryRows(): Promise<string[]>;
}

/** Set up the stage; call at the top of a test file. */
export async function stage(): Promise<Stage> {
  const db = await fixture();
  const tag = randomBytes(3).toString('hex');
  const mallory = `mallory_${tag}`;
  const victor = `victor_${tag}`;
  const owner = `kowner_${tag}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const evil = `evil_${tag}`;
  const canary = `public.canary_${tag}`;
  const ownerSchema = `own_${tag}`;
  const admin = db.pool;
  await admin.query(`CREATE ROLE ${mallory} NOLOGIN IN ROLE job_scheduler; CREATE ROLE ${victor} NOLOGIN IN ROLE job_scheduler`);
  await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD '${password}'`);
  const database = (await admin.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
  await admin.query(`GRANT CREATE ON DATABASE "${database}" TO ${owner}; GRANT ${mallory}, ${victor} TO ${owner}`);
  await admin.query(`CREATE TABLE ${canary} (who text, what text); GRANT INSERT, SELECT ON ${canary} TO ${owner}`);
  await admin.query(`CREATE SCHEMA ${evil} AUTHORIZATION ${mallory}`);
  await installEvil(admin, mallory, evil, canary);

  const ownerUrl = new URL(db.connectionString);
  ownerUrl.username = owner;
  ownerUrl.password = password;
  const ownerPool = new pg.Pool({ connectionString: ownerUrl.toString(), max: 4, types: KAIROS_TYPES });
  const nodes: Kairos[] = [];
  const installation = (schema: string, url: string, pool: pg.Pool, agentRole: string, superuser: boolean): Installation => ({
    schema, s: `"${schema}"`, url, pool, agentRole, superuser,
    node(options: Partial<KairosOptions> = {}) {
      const kairos = new Kairos({ connectionString: url, schema, logger: silentLogger, pollInterval: 500, migrate: false, runSqlJobs: true, ...options } as KairosOptions);
      nodes.push(kairos);
      return kairos;
    },
  });
  const superRole = (await admin.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  const superuserInstall = installation(db.schema, db.connectionString, admin, superRole, true);
  const ownerInstall = installation(ownerSchema, ownerUrl.toString(), ownerPool, owner, false);
  // The owner installs its own schema, as docs/sql.md recommends.
  const installer = new Kairos({ connectionString: ownerInstall.url, schema: ownerSchema, logger: silentLogger, migrate: true });
  await installer.migrate();

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop({ timeout: 1000 }).catch(() => undefined)));
    await ownerPool.end().catch(() => undefined);
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${ownerSchema} CASCADE; DROP SCHEMA IF EXISTS ${evil} CASCADE; DROP TABLE IF EXISTS ${canary}`);
    for (const role of [mallory, victor, owner]) {
      await client.query(`REVOKE ALL ON DATABASE "${database}" FROM ${role}`).catch(() => undefined);
      await client.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
    }
    await client.end();
  });

  return {
    db, tag, mallory, victor, evil, canary, superuserInstall, ownerInstall,
    as: asRole,
    async canaryRows() {
      const { rows } = await admin.query<{ who: string; what: string }>(`SELECT who, what FROM ${canary} ORDER BY 1, 2`);
      return rows.map((r) => `${r.what} ran as ${r.who}`);
    },
  };
}

/**
 * The attacker's kit in schema `evil`: look-alikes of what Kairos's statements call (now(),
 * pg_notify, the jsonb operators, the equality of integers and of text) that write to the canary
 * and then do what the original does, so nothing visibly breaks.
 */
async function installEvil(admin: pg.Pool, mallory: string, evil: string, canary: string): Promise<void> {
  const spy = (what: string): string =>
    `BEGIN INSERT INTO ${canary} VALUES (current_user, '${what}'); EXCEPTION WHEN OTHERS THEN NULL; END;`;
  const client = await admin.connect();
  try {
    await client.query(`SET ROLE ${mallory}`);
    await client.query(`GRANT USAGE ON SCHEMA ${evil} TO PUBLIC`);
    await client.query(`
      CREATE FUNCTION ${evil}.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN ${spy('now()')} RETURN pg_catalog.now(); END $$;
      CREATE FUNCTION ${evil}.pg_notify(text, text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN ${spy('pg_notify()')} PERFORM pg_catalog.pg_notify($1, $2); END $$;
      CREATE FUNCTION ${evil}.field(jsonb, text) RETURNS jsonb LANGUAGE plpgsql AS $$ BEGIN ${spy('jsonb -> text')} RETURN pg_catalog.jsonb_object_field($1, $2); END $$;
      CREATE OPERATOR ${evil}.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = ${evil}.field);
      CREATE FUNCTION ${evil}.element_text(jsonb, integer) RETURNS text LANGUAGE plpgsql AS $$ BEGIN ${spy('jsonb ->> int')} RETURN pg_catalog.jsonb_array_element_text($1, $2); END $$;
      CREATE OPERATOR ${evil}.->> (LEFTARG = jsonb, RIGHTARG = integer, FUNCTION = ${evil}.element_text);
      CREATE FUNCTION ${evil}.int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN ${spy('bigint = bigint')} RETURN pg_catalog.int8eq($1, $2); END $$;
      CREATE OPERATOR ${evil}.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = ${evil}.int8eq);
      CREATE FUNCTION ${evil}.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN ${spy('text = text')} RETURN pg_catalog.texteq($1, $2); END $$;
      CREATE OPERATOR ${evil}.= (LEFTARG = text, RIGHTARG = text, FUNCTION = ${evil}.texteq);
      CREATE FUNCTION ${evil}.spy() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN ${spy('spy()')} RETURN 1; END $$;
      CREATE FUNCTION ${evil}.spy_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${spy('a trigger')} RETURN NULL; END $$;
      CREATE FUNCTION ${evil}.spy_index(integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN ${spy('an index expression')} RETURN $1; END $$;`);
  } finally {
    await client.query('RESET ROLE').catch(() => undefined);
    client.release();
  }
}
