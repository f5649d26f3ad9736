-- Kairos schema, version 20: one owner for storing a job definition, store_job.
--
-- Why: the rule for writing a job definition by name (issue #13, "one owner per rule") was
-- written twice, differently. The TypeScript API (schedule(): lockJobByName, then insertJob or
-- updateJob, with scheduleChanged deciding in TypeScript) kept next_run and run_count when the
-- schedule was unchanged, so that replicas re-declaring the same schedule at start-up never
-- move it, and kept an interval's first anchor when it was declared without startAt. The SQL
-- API's define_job (0004, 0008, 0015), and the compatibility upserts add_or_update_job (0004,
-- 0008) and schedule_in_database (0004), each did INSERT ... ON CONFLICT DO UPDATE, which always
-- reset next_run and run_count and re-anchored an interval at now(): a deploy script calling
-- define_job on every deploy moved the schedule each time (an every-hour job fired at each deploy
-- and then an hour after it), and a job defined through one API and redefined through the other
-- depended on which one was last.
--
-- store_job(definition, first_next_run, at) below holds the rule; the TypeScript API (storeJob in
-- sql/queries/jobs.sql), define_job, add_or_update_job and schedule_in_database call it.
-- Validation stays with each API (the SQL functions check their arguments as before, the
-- TypeScript API before it calls), and so does the schedule maths: the caller passes the first
-- next_run its own cron/interval code computed for a new or changed schedule.
--   * definition: a JSON object whose keys are columns of `jobs` (job_name, and any of job_type,
--     command, description, schedule_kind, cron, timezone, schedule_interval, schedule_time,
--     end_time, max_runs, catch_up, max_lateness_ms, misfire_grace_ms, overlap, payload, queue,
--     priority, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key, max_attempts,
--     enabled, labels, exceptions, node_name, node_tags, owner, database_name, options); "if_new"
--     may hold more of them, written only when the job is created (the TypeScript API's
--     `enabled`: a redeclaration does not re-enable a job an operator disabled). A column the
--     definition does not name takes its default on insert and keeps its value on update (the
--     SQL API does not name backoff_ms, backoff_max_ms or lock_key; the TypeScript API does not
--     name owner, database_name or options). Any other key (next_run, run_count, ...) is refused.
--   * An interval whose definition gives no schedule_time (no start_at / startAt) is anchored
--     at `at` (null: now()) when it is created or its schedule changes, and keeps that anchor on
--     an unchanged redefinition.
--   * The job is locked by name; a new one is inserted (a concurrent first definition of the
--     same name is taken as an update, inside the function: no retry is needed); the schedule
--     is "changed" when any of schedule_kind, cron, timezone, schedule_interval, end_time,
--     max_runs differs, or schedule_time does (but for an interval without an anchor), or the job
--     is quarantined (broken_at, 0016), or the definition enables a disabled job (planned from
--     now, as enabling it does), or its stored cursor is one the ticker refuses (next_run
--     outside the years 1-9999, run_count outside 0-2146483647, a kept anchor outside the years
--     1-9999). A changed schedule starts afresh: next_run = first_next_run, run_count = 0; an
--     unchanged one keeps next_run and run_count. Every other named column is written.
--   * The one place where a redefinition resets per-job state: a later change (e.g. resetting
--     current_attempts) goes here.
--
-- What changes for SQL callers (same signatures, checks, messages and SQLSTATEs):
--   * define_job, add_or_update_job and schedule/schedule_in_database of an existing job with an
--     unchanged schedule keep its next_run and run_count (before: reset, next_run recomputed
--     from now). An interval defined without start_at (p_time for add_or_update_job, pg_cron's
--     'N seconds') keeps the anchor it got when first defined; before, each call re-anchored it
--     at now(), and define_job's then fired at once. A changed schedule, a quarantined job, or a
--     disabled job the call enables starts afresh as before.
--   * A job defined by schedule() and redefined by define_job with the same schedule (or the
--     other way round) is the same row with the same cursor; define_job still writes every
--     column it has an argument for (owner, enabled, ...), and keeps a TypeScript job's backoff
--     and lock key, as its ON CONFLICT did.
--   * A tenant defining a name another role's job holds still gets 42501 (PostgreSQL's row-level
--     security message for the ON CONFLICT of the insert), as before.
--
-- Safety: store_job is new; define_job_unchecked, add_or_update_job_unchecked and
-- schedule_in_database keep their signatures, grants, SECURITY INVOKER and pinned search_path
-- (CREATE OR REPLACE). store_job is SECURITY INVOKER with a pinned search_path: a tenant's call
-- reads, inserts and updates `jobs` under the policies of 0014/0015 exactly as its direct
-- statements would (it sees only its own rows; the insert's ON CONFLICT raises 42501 on another
-- role's row). Nodes of version 19 keep working: their insertJob/updateJob statements are
-- unchanged SQL on the same table (they keep their own copy of the rule until upgraded). No data
-- is touched. Forward-only, in one transaction.

CREATE FUNCTION {{schema}}.store_job(definition jsonb, first_next_run timestamptz, at timestamptz)
RETURNS {{schema}}.jobs
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  definable text[] := ARRAY['job_type', 'command', 'description', 'schedule_kind', 'cron', 'timezone',
    'schedule_interval', 'schedule_time', 'end_time', 'max_runs', 'catch_up', 'max_lateness_ms', 'misfire_grace_ms',
    'overlap', 'payload', 'queue', 'priority', 'max_retries', 'backoff_ms', 'backoff_max_ms', 'timeout_ms',
    'lock_key', 'max_attempts', 'enabled', 'labels', 'exceptions', 'node_name', 'node_tags', 'owner',
    'database_name', 'options'];
  s text := {{lit_schema}};
  jname text := definition->>'job_name';
  clock timestamptz := coalesce(at, now());
  given jsonb;    -- the columns written on update
  created jsonb;  -- the columns written on insert: given and if_new
  bad text;
  old_job {{schema}}.jobs;
  new_job {{schema}}.jobs;
  stored {{schema}}.jobs;
  id integer;
  inserted boolean;
  floating boolean;
  fresh boolean;
  cols text;
  vals text;
BEGIN
  IF jsonb_typeof(definition) IS DISTINCT FROM 'object' OR jname IS NULL THEN
    RAISE EXCEPTION 'store_job: the definition must be a JSON object with a job_name' USING ERRCODE = '22023';
  END IF;
  IF definition ? 'if_new' AND jsonb_typeof(definition->'if_new') <> 'object' THEN
    RAISE EXCEPTION 'store_job: if_new must be a JSON object' USING ERRCODE = '22023';
  END IF;
  given := definition - 'job_name' - 'if_new';
  created := given || coalesce(definition->'if_new', '{}');
  SELECT k INTO bad FROM jsonb_object_keys(created) k WHERE NOT k = ANY (definable) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'store_job: % is not a column a definition writes', bad USING ERRCODE = '22023';
  END IF;

  SELECT * INTO old_job FROM {{schema}}.jobs j WHERE j.job_name = jname FOR UPDATE;
  IF NOT FOUND THEN
    new_job := jsonb_populate_record(NULL::{{schema}}.jobs, created);
    IF new_job.schedule_kind = 'interval' AND coalesce(jsonb_typeof(created->'schedule_time'), 'null') = 'null' THEN
      created := created || jsonb_build_object('schedule_time', clock);
      new_job.schedule_time := clock;
    END IF;
    -- jsonb_populate_record makes a JSON null SQL NULL; a jsonb column takes the JSON value.
    new_job.payload := created->'payload';
    new_job.options := created->'options';
    new_job.exceptions := created->'exceptions';
    new_job.job_name := jname;
    SELECT string_agg(format(', %I', k), '' ORDER BY k), string_agg(format(', x.%I', k), '' ORDER BY k)
      INTO cols, vals FROM jsonb_object_keys(created) k;
    -- A concurrent first definition of the name: its row, once committed, is locked by the
    -- no-op DO UPDATE and updated below. Another role's row (invisible to a tenant) makes the
    -- DO UPDATE raise 42501, the row-level security of 0014.
    EXECUTE format('INSERT INTO %I.jobs AS j (job_name%s, next_run, planned) SELECT x.job_name%s, $2, true '
                   'FROM (SELECT ($1).*) x ON CONFLICT ON CONSTRAINT jobs_job_name_key DO UPDATE SET job_name = excluded.job_name '
                   'RETURNING j.job_id, j.xmax = 0', s, coalesce(cols, ''), coalesce(vals, ''))
      INTO id, inserted USING new_job, first_next_run;
    IF inserted THEN
      SELECT * INTO stored FROM {{schema}}.jobs j WHERE j.job_id = id;
      RETURN stored;
    END IF;
    SELECT * INTO old_job FROM {{schema}}.jobs j WHERE j.job_id = id FOR UPDATE;
  END IF;

  new_job := jsonb_populate_record(old_job, given);
  floating := new_job.schedule_kind = 'interval' AND coalesce(jsonb_typeof(given->'schedule_time'), 'null') = 'null';
  fresh := old_job.broken_at IS NOT NULL
    -- Enabled by this definition: planned from now, as enabling does (toggle_job, enable()).
    OR (new_job.enabled AND NOT old_job.enabled)
    OR new_job.schedule_kind IS DISTINCT FROM old_job.schedule_kind OR new_job.cron IS DISTINCT FROM old_job.cron
    OR new_job.timezone IS DISTINCT FROM old_job.timezone
    OR new_job.schedule_interval IS DISTINCT FROM old_job.schedule_interval
    OR new_job.end_time IS DISTINCT FROM old_job.end_time OR new_job.max_runs IS DISTINCT FROM old_job.max_runs
    OR (NOT floating AND new_job.schedule_time IS DISTINCT FROM old_job.schedule_time)
    -- A stored cursor the ticker would refuse (src/core/job-checks.ts) may be what is wrong.
    OR NOT (old_job.next_run IS NULL OR (old_job.next_run >= '0001-01-01 00:00:00+00' AND old_job.next_run < '10000-01-01 00:00:00+00'))
    OR old_job.run_count NOT BETWEEN 0 AND 2146483647
    OR (floating AND NOT (old_job.schedule_time IS NULL
                          OR (old_job.schedule_time >= '0001-01-01 00:00:00+00' AND old_job.schedule_time < '10000-01-01 00:00:00+00')));
  IF floating THEN
    given := CASE WHEN fresh THEN given || jsonb_build_object('schedule_time', clock) ELSE given - 'schedule_time' END;
    new_job.schedule_time := CASE WHEN fresh THEN clock ELSE old_job.schedule_time END;
  END IF;
  IF given ? 'payload' THEN new_job.payload := given->'payload'; END IF;
  IF given ? 'options' THEN new_job.options := given->'options'; END IF;
  IF given ? 'exceptions' THEN new_job.exceptions := given->'exceptions'; END IF;
  SELECT string_agg(format('%I = x.%I, ', k, k), '' ORDER BY k) INTO cols FROM jsonb_object_keys(given) k;
  EXECUTE format('UPDATE %I.jobs AS j SET %s planned = true, updated_at = now(), '
                 'next_run = CASE WHEN $3 THEN $2 ELSE j.next_run END, run_count = CASE WHEN $3 THEN 0 ELSE j.run_count END '
                 'FROM (SELECT ($1).*) x WHERE j.job_id = x.job_id RETURNING j.*', s, coalesce(cols, ''))
    INTO stored USING new_job, first_next_run, fresh;
  RETURN stored;
END $$;

COMMENT ON FUNCTION {{schema}}.store_job(jsonb, timestamptz, timestamptz) IS
  'Insert or update a job definition by name (migration 0020): an unchanged schedule keeps next_run and run_count; a new or changed one takes first_next_run.';

CREATE OR REPLACE FUNCTION {{schema}}.define_job_unchecked(
  job_name text, command text, job_type text DEFAULT 'sql', cron text[] DEFAULT NULL, every interval DEFAULT NULL,
  at timestamptz DEFAULT NULL, timezone text DEFAULT 'UTC', start_at timestamptz DEFAULT NULL,
  end_at timestamptz DEFAULT NULL, max_runs integer DEFAULT NULL, catch_up text DEFAULT 'latest',
  max_lateness interval DEFAULT '1 day', misfire_grace interval DEFAULT NULL, overlap text DEFAULT 'skip',
  database text DEFAULT NULL, run_as name DEFAULT current_user, timeout interval DEFAULT NULL,
  retries integer DEFAULT 0, max_attempts integer DEFAULT NULL, exceptions jsonb DEFAULT '[]',
  node_name text DEFAULT NULL, node_tags text[] DEFAULT '{}', labels text[] DEFAULT '{}',
  description text DEFAULT NULL, options jsonb DEFAULT '{}', payload jsonb DEFAULT '{}',
  queue text DEFAULT 'default', priority integer DEFAULT 5, enabled boolean DEFAULT true) RETURNS {{schema}}.member_job
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kinds integer := (cron IS NOT NULL)::integer + (every IS NOT NULL)::integer + (at IS NOT NULL)::integer;
  kind text := CASE WHEN cron IS NOT NULL THEN 'cron' WHEN every IS NOT NULL THEN 'interval' WHEN at IS NOT NULL THEN 'once' ELSE 'manual' END;
  next_at timestamptz;
  stored {{schema}}.jobs;
  result {{schema}}.member_job;
BEGIN
  PERFORM {{schema}}.api_check_name(job_name, 'job name');
  PERFORM {{schema}}.api_check_owner(run_as);
  IF job_type = 'task' THEN
    PERFORM {{schema}}.api_check_name(command, 'task name');
  ELSIF job_type = 'steps' THEN
    NULL; -- the steps are given with set_steps()
  ELSE
    PERFORM {{schema}}.api_check_command(job_type, command, run_as);
  END IF;
  IF kinds > 1 THEN PERFORM {{schema}}.api_fail('give only one of cron, every and at'); END IF;
  IF catch_up NOT IN ('skip', 'latest', 'all') THEN PERFORM {{schema}}.api_fail(format('catch_up must be skip, latest or all, got %L', catch_up)); END IF;
  IF overlap NOT IN ('allow', 'skip', 'queue', 'replace') THEN PERFORM {{schema}}.api_fail(format('overlap must be allow, skip, queue or replace, got %L', overlap)); END IF;
  IF retries IS NULL OR retries < 0 THEN PERFORM {{schema}}.api_fail(format('retries must be 0 or more, got %s', retries)); END IF;
  IF max_attempts IS NOT NULL AND max_attempts < 1 THEN PERFORM {{schema}}.api_fail(format('max_attempts must be at least 1, got %s', max_attempts)); END IF;
  IF max_runs IS NOT NULL AND max_runs < 1 THEN PERFORM {{schema}}.api_fail(format('max_runs must be at least 1, got %s', max_runs)); END IF;
  IF end_at IS NOT NULL AND start_at IS NOT NULL AND end_at < start_at THEN PERFORM {{schema}}.api_fail('end_at is before start_at'); END IF;
  IF timeout IS NOT NULL AND timeout <= interval '0' THEN PERFORM {{schema}}.api_fail(format('timeout must be positive, got %s', timeout)); END IF;
  IF jsonb_typeof(exceptions) <> 'array' THEN PERFORM {{schema}}.api_fail('exceptions must be a JSON array of {"date": "YYYY-MM-DD", "time": "HH:MM"}'); END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = timezone) THEN PERFORM {{schema}}.api_fail(format('unknown time zone %L', timezone)); END IF;
  PERFORM {{schema}}.api_check_name(queue, 'queue');
  -- The first next_run of a new or changed schedule (store_job keeps the stored one otherwise).
  IF kind = 'cron' THEN
    next_at := {{schema}}.api_cron_first(cron, timezone);
    IF start_at > now() THEN next_at := {{schema}}.api_cron_first_after(cron, timezone, start_at); END IF;
  ELSIF kind = 'interval' THEN
    PERFORM {{schema}}.api_check_interval(every, 'every');
    -- Without start_at, store_job anchors the interval at now() (the `at` below) and keeps it.
    next_at := {{schema}}.interval_next(coalesce(start_at, now()), every, now() - interval '1 microsecond');
  ELSIF kind = 'once' THEN
    next_at := at;
  END IF;
  IF end_at IS NOT NULL AND next_at > end_at THEN next_at := NULL; END IF;
  stored := {{schema}}.store_job(jsonb_build_object(
      'job_name', job_name, 'job_type', job_type, 'command', command, 'schedule_kind', kind,
      'cron', array_to_string(cron, E'\n'), 'schedule_interval', every,
      'schedule_time', CASE kind WHEN 'interval' THEN start_at WHEN 'once' THEN at END,
      'timezone', timezone, 'end_time', end_at, 'max_runs', max_runs, 'catch_up', catch_up,
      'max_lateness_ms', (extract(epoch FROM max_lateness) * 1000)::bigint,
      'misfire_grace_ms', (extract(epoch FROM misfire_grace) * 1000)::bigint, 'overlap', overlap,
      'database_name', database, 'owner', run_as, 'timeout_ms', (extract(epoch FROM timeout) * 1000)::integer,
      'max_retries', retries, 'max_attempts', max_attempts, 'exceptions', exceptions, 'node_name', node_name,
      'node_tags', coalesce(node_tags, '{}'), 'labels', coalesce(labels, '{}'), 'description', description,
      'options', coalesce(options, '{}'), 'payload', coalesce(payload, '{}'), 'queue', queue,
      'priority', coalesce(priority, 5), 'enabled', coalesce(enabled, true)),
    next_at, now());
  SELECT * INTO result FROM {{schema}}.member_job m WHERE m.job_id = stored.job_id;
  RETURN result;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.add_or_update_job_unchecked(p_name text, p_type text, p_cmd text, p_interval interval DEFAULT NULL,
                                                                p_time timestamptz DEFAULT NULL, p_max_attempts integer DEFAULT 3) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kind text;
  next_at timestamptz;
  existed boolean;
BEGIN
  PERFORM {{schema}}.api_check_name(p_name, 'job name');
  PERFORM {{schema}}.api_check_command(p_type, p_cmd, current_user);
  IF p_max_attempts IS NULL OR p_max_attempts < 1 THEN
    PERFORM {{schema}}.api_fail(format('max_attempts must be at least 1, got %s', coalesce(p_max_attempts::text, 'NULL')));
  END IF;
  IF p_interval IS NOT NULL THEN
    PERFORM {{schema}}.api_check_interval(p_interval, 'interval');
    kind := 'interval';
    next_at := {{schema}}.interval_next(coalesce(p_time, now()), p_interval, now() - interval '1 microsecond');
  ELSIF p_time IS NOT NULL THEN
    kind := 'once';
    next_at := p_time;
  ELSE
    PERFORM {{schema}}.api_fail('give an interval (a recurring job), a start time (a one-time job), or both');
  END IF;
  -- Only for the answer: store_job decides, under its lock, whether to insert.
  existed := EXISTS (SELECT 1 FROM {{schema}}.jobs j WHERE j.job_name = p_name);
  PERFORM {{schema}}.store_job(jsonb_build_object(
      'job_name', p_name, 'job_type', p_type, 'command', p_cmd, 'schedule_kind', kind, 'cron', NULL,
      'schedule_interval', p_interval, 'schedule_time', p_time, 'max_attempts', p_max_attempts,
      'max_retries', p_max_attempts - 1),
    next_at, now());
  RETURN CASE WHEN existed THEN 'updated' ELSE 'created' END;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.schedule_in_database(job_name text, schedule text, command text, database text,
                                                         username text DEFAULT NULL, active boolean DEFAULT true) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  job {{schema}}.jobs;
  stored {{schema}}.jobs;
BEGIN
  PERFORM {{schema}}.api_check_name(job_name, 'job name');
  PERFORM {{schema}}.api_check_sql(command);
  PERFORM {{schema}}.api_check_owner(coalesce(username, current_user));
  job := jsonb_populate_record(NULL::{{schema}}.jobs, jsonb_build_object('job_name', job_name, 'job_type', 'sql', 'command', command, 'timezone', 'UTC'));
  job := {{schema}}.api_apply_schedule(job, schedule);
  -- pg_cron's 'N seconds' has no anchor of its own: store_job anchors it at the whole second
  -- api_apply_schedule planned from, and keeps it while the schedule is unchanged.
  stored := {{schema}}.store_job(jsonb_build_object(
      'job_name', job_name, 'job_type', 'sql', 'command', command, 'schedule_kind', job.schedule_kind,
      'cron', job.cron, 'schedule_interval', job.schedule_interval, 'schedule_time', NULL,
      'database_name', database, 'owner', coalesce(username, current_user), 'enabled', coalesce(active, true),
      'if_new', jsonb_build_object('max_attempts', NULL)),
    job.next_run, job.schedule_time);
  RETURN stored.job_id;
END $$;

-- Like the API functions that call it: nothing to PUBLIC, EXECUTE to the scheduler role, whose
-- members' writes are checked by the jobs policies.
DO $$
DECLARE
  s text := {{lit_schema}};
  who text := {{lit_role_scheduler}};
BEGIN
  EXECUTE format('REVOKE ALL ON FUNCTION %I.store_job(jsonb, timestamptz, timestamptz) FROM PUBLIC', s);
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who) THEN RETURN; END IF;
  EXECUTE format('GRANT EXECUTE ON FUNCTION %I.store_job(jsonb, timestamptz, timestamptz) TO %I', s, who);
END $$;
