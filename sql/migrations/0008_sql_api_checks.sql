-- Kairos schema, version 8: the SQL API's stricter checks.
-- Found by test/fuzz/sql-api.test.ts: some values got past the checks of 0004 and failed deep
-- inside with an error that does not name the field ("integer out of range" for a timeout of a
-- month, "timestamp out of range" for a delay of a million days, a CHECK violation for a step
-- timeout of 0, "invalid input syntax for type boolean" for a step's resumable). Each function
-- below either is replaced in place with the checks added, or (when its body allows) renamed to
-- <name>_unchecked and fronted by one with the same signature that checks first (forward-only:
-- 0004 is not edited). The checks run before anything is written.

-- A duration stored as integer milliseconds: positive, fixed-length, and small enough.
CREATE FUNCTION {{schema}}.api_check_ms(value interval, field text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF value IS NULL THEN RETURN NULL; END IF;
  IF extract(month FROM value) <> 0 OR extract(year FROM value) <> 0 THEN
    PERFORM {{schema}}.api_fail(format('%s %s has months or years, which have no fixed length; use days', field, value));
  END IF;
  IF value <= interval '0' OR value > interval '2147483.647 seconds' THEN
    PERFORM {{schema}}.api_fail(format('%s must be positive and at most 24 days 20:31:23.647, got %s', field, value));
  END IF;
  RETURN (extract(epoch FROM value) * 1000)::integer;
END $$;

-- Intervals of schedules (0004) also get an upper bound: '999999999 days' overflowed the grid
-- arithmetic ("timestamp out of range").
CREATE OR REPLACE FUNCTION {{schema}}.api_check_interval(every interval, field text) RETURNS interval
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF every IS NULL THEN RETURN NULL; END IF;
  IF extract(month FROM every) <> 0 OR extract(year FROM every) <> 0 THEN
    PERFORM {{schema}}.api_fail(format('%s %s has months or years, which have no fixed length; use days', field, every));
  END IF;
  IF every < interval '1 second' OR every > interval '36500 days' THEN
    PERFORM {{schema}}.api_fail(format('%s must be at least 1 second and at most 36500 days, got %s', field, every));
  END IF;
  RETURN every;
END $$;

-- A point in time given to the API: finite and within years 1-9999 (so that any schedule
-- arithmetic on it stays in range).
CREATE FUNCTION {{schema}}.api_check_time(value timestamptz, field text) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF value IS NOT NULL AND (NOT isfinite(value) OR value < '0001-01-01 00:00:00+00' OR value >= '10000-01-01 00:00:00+00') THEN
    PERFORM {{schema}}.api_fail(format('%s must be a time between the years 1 and 9999, got %s', field, value));
  END IF;
  RETURN value;
END $$;

ALTER FUNCTION {{schema}}.add_or_update_job(text, text, text, interval, timestamptz, integer) RENAME TO add_or_update_job_unchecked;
CREATE FUNCTION {{schema}}.add_or_update_job(p_name text, p_type text, p_cmd text, p_interval interval DEFAULT NULL,
                                            p_time timestamptz DEFAULT NULL, p_max_attempts integer DEFAULT 3) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM {{schema}}.api_check_time(p_time, 'p_time');
  RETURN {{schema}}.add_or_update_job_unchecked(p_name, p_type, p_cmd, p_interval, p_time, p_max_attempts);
END $$;

ALTER FUNCTION {{schema}}.define_job(text, text, text, text[], interval, timestamptz, text, timestamptz, timestamptz, integer,
  text, interval, interval, text, text, name, interval, integer, integer, jsonb, text, text[], text[], text, jsonb, jsonb,
  text, integer, boolean) RENAME TO define_job_unchecked;
CREATE FUNCTION {{schema}}.define_job(
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
BEGIN
  PERFORM {{schema}}.api_check_time(at, 'at'), {{schema}}.api_check_time(start_at, 'start_at'),
          {{schema}}.api_check_time(end_at, 'end_at'), {{schema}}.api_check_ms(timeout, 'timeout');
  IF max_lateness IS NULL OR max_lateness < interval '0' OR max_lateness > interval '100 years' THEN
    PERFORM {{schema}}.api_fail(format('max_lateness must be between 0 and 100 years, got %s', coalesce(max_lateness::text, 'NULL')));
  END IF;
  IF misfire_grace < interval '0' OR misfire_grace > interval '100 years' THEN
    PERFORM {{schema}}.api_fail(format('misfire_grace must be between 0 and 100 years, got %s', misfire_grace));
  END IF;
  RETURN {{schema}}.define_job_unchecked(job_name, command, job_type, cron, every, at, timezone, start_at, end_at, max_runs,
    catch_up, max_lateness, misfire_grace, overlap, database, run_as, timeout, retries, max_attempts, exceptions, node_name,
    node_tags, labels, description, options, payload, queue, priority, enabled);
END $$;

-- These refer to their own arguments as <function>.<argument>, which a rename would break:
-- they are replaced in place, with the checks added.
CREATE OR REPLACE FUNCTION {{schema}}.insert_job(job_command text, datname name DEFAULT current_catalog, schedule text[] DEFAULT NULL,
                                     rolname name DEFAULT current_user, job_description text DEFAULT NULL,
                                     enabled boolean DEFAULT true, job_timeout interval DEFAULT '6 hours',
                                     parallel boolean DEFAULT false) RETURNS {{schema}}.member_job
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  new_id integer := nextval(pg_get_serial_sequence('{{schema}}.jobs', 'job_id'));
  result {{schema}}.member_job;
BEGIN
  PERFORM {{schema}}.api_check_owner(rolname);
  PERFORM {{schema}}.api_check_sql(job_command);
  IF datname IS NULL THEN PERFORM {{schema}}.api_fail('datname must not be NULL'); END IF;
  PERFORM {{schema}}.api_check_ms(job_timeout, 'job_timeout');
  INSERT INTO {{schema}}.jobs (job_id, job_name, job_type, command, database_name, owner, description, enabled,
                               timeout_ms, overlap, schedule_kind, cron, next_run, planned, max_attempts)
  VALUES (new_id, 'job_' || new_id, 'sql', job_command, insert_job.datname, rolname, job_description,
          coalesce(insert_job.enabled, true), (extract(epoch FROM job_timeout) * 1000)::integer,
          CASE WHEN parallel THEN 'allow' ELSE 'skip' END,
          CASE WHEN schedule IS NULL THEN 'manual' ELSE 'cron' END, array_to_string(schedule, E'\n'),
          CASE WHEN schedule IS NULL THEN NULL ELSE {{schema}}.api_cron_first(schedule, 'UTC') END, true, NULL);
  SELECT * INTO result FROM {{schema}}.member_job m WHERE m.job_id = new_id;
  RETURN result;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.update_job(job_id integer, job_command text DEFAULT NULL, datname name DEFAULT NULL,
                                     schedule text[] DEFAULT NULL, rolname name DEFAULT NULL,
                                     job_description text DEFAULT NULL, enabled boolean DEFAULT NULL,
                                     job_timeout interval DEFAULT NULL, parallel boolean DEFAULT NULL) RETURNS {{schema}}.member_job
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  result {{schema}}.member_job;
BEGIN
  IF rolname IS NOT NULL THEN PERFORM {{schema}}.api_check_owner(rolname); END IF;
  IF job_command IS NOT NULL THEN PERFORM {{schema}}.api_check_sql(job_command); END IF;
  PERFORM {{schema}}.api_check_ms(job_timeout, 'job_timeout');
  UPDATE {{schema}}.jobs j
     SET command = coalesce(update_job.job_command, j.command),
         database_name = coalesce(update_job.datname, j.database_name),
         owner = coalesce(update_job.rolname, j.owner),
         description = coalesce(update_job.job_description, j.description),
         enabled = coalesce(update_job.enabled, j.enabled),
         current_attempts = CASE WHEN update_job.enabled AND NOT j.enabled THEN 0 ELSE j.current_attempts END,
         timeout_ms = coalesce((extract(epoch FROM update_job.job_timeout) * 1000)::integer, j.timeout_ms),
         overlap = CASE WHEN update_job.parallel IS NULL THEN j.overlap WHEN update_job.parallel THEN 'allow' ELSE 'skip' END,
         schedule_kind = CASE WHEN update_job.schedule IS NULL THEN j.schedule_kind ELSE 'cron' END,
         cron = coalesce(array_to_string(update_job.schedule, E'\n'), j.cron),
         next_run = CASE WHEN update_job.schedule IS NULL THEN j.next_run ELSE {{schema}}.api_cron_first(update_job.schedule, j.timezone) END,
         run_count = CASE WHEN update_job.schedule IS NULL THEN j.run_count ELSE 0 END,
         updated_at = now()
   WHERE j.job_id = update_job.job_id;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job with id %s', update_job.job_id), 'P0002'); END IF;
  SELECT * INTO result FROM {{schema}}.member_job m WHERE m.job_id = update_job.job_id;
  RETURN result;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.set_steps(job_name text, steps jsonb) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  job {{schema}}.jobs;
  step jsonb;
  pos integer := 0;
  timeout interval;
BEGIN
  SELECT * INTO job FROM {{schema}}.jobs j WHERE j.job_name = set_steps.job_name FOR UPDATE;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job named %L', set_steps.job_name), 'P0002'); END IF;
  IF steps IS NULL OR jsonb_typeof(steps) <> 'array' OR jsonb_array_length(steps) = 0 THEN
    PERFORM {{schema}}.api_fail('steps must be a non-empty JSON array');
  END IF;
  DELETE FROM {{schema}}.job_steps s WHERE s.job_id = job.job_id;
  FOR step IN SELECT value FROM jsonb_array_elements(steps) LOOP
    pos := pos + 1;
    IF jsonb_typeof(step) <> 'object' THEN PERFORM {{schema}}.api_fail(format('step %s must be a JSON object', pos)); END IF;
    PERFORM {{schema}}.api_check_name(coalesce(step->>'name', 'step ' || pos), format('step %s name', pos));
    PERFORM {{schema}}.api_check_command(step->>'kind', step->>'command', job.owner);
    IF step ? 'resumable' AND jsonb_typeof(step->'resumable') NOT IN ('boolean', 'null') THEN
      PERFORM {{schema}}.api_fail(format('step %s: resumable must be true or false, got %s', pos, step->'resumable'));
    END IF;
    BEGIN
      timeout := (step->>'timeout')::interval;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
      PERFORM {{schema}}.api_fail(format('step %s: timeout must be an interval such as ''30 seconds'', got %L', pos, step->>'timeout'));
    END;
    PERFORM {{schema}}.api_check_ms(timeout, format('step %s: timeout', pos));
    IF coalesce(step->>'on_error', 'fail') NOT IN ('fail', 'success', 'ignore') THEN
      PERFORM {{schema}}.api_fail(format('step %s: on_error must be fail, success or ignore, got %L', pos, step->>'on_error'));
    END IF;
    INSERT INTO {{schema}}.job_steps (job_id, position, name, kind, command, database_name, on_error, resumable, timeout_ms, options)
    VALUES (job.job_id, pos, coalesce(step->>'name', 'step ' || pos), step->>'kind', step->>'command', step->>'database',
            coalesce(step->>'on_error', 'fail'), coalesce((step->>'resumable')::boolean, false),
            {{schema}}.api_check_ms(timeout, 'timeout'), coalesce(step->'options', '{}'));
  END LOOP;
  UPDATE {{schema}}.jobs j SET job_type = 'steps', updated_at = now() WHERE j.job_id = job.job_id;
  RETURN pos;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.trigger_job(job_name text, payload jsonb DEFAULT NULL, run_at timestamptz DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id bigint;
BEGIN
  PERFORM {{schema}}.api_check_time(trigger_job.run_at, 'run_at');
  INSERT INTO {{schema}}.runs (job_id, task, job_type, queue, priority, payload, run_at, max_retries, backoff_ms,
                               backoff_max_ms, timeout_ms, lock_key, serial, owner, node_name, node_tags)
  SELECT j.job_id, CASE WHEN j.job_type = 'task' THEN j.command ELSE '@' || j.job_type END, j.job_type, j.queue,
         j.priority, coalesce(trigger_job.payload, j.payload), coalesce(trigger_job.run_at, now()), j.max_retries,
         j.backoff_ms, j.backoff_max_ms, j.timeout_ms, j.lock_key, j.overlap <> 'allow', j.owner, j.node_name, j.node_tags
    FROM {{schema}}.jobs j WHERE j.job_name = trigger_job.job_name
  RETURNING run_id INTO id;
  IF id IS NULL THEN PERFORM {{schema}}.api_fail(format('no job named %L', trigger_job.job_name), 'P0002'); END IF;
  RETURN id;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.enqueue(task text, payload jsonb DEFAULT '{}', run_at timestamptz DEFAULT NULL,
                                  priority integer DEFAULT 5, queue text DEFAULT 'default', job_key text DEFAULT NULL,
                                  conflict text DEFAULT 'raise', retries integer DEFAULT 3, delay interval DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id bigint;
  due timestamptz;
BEGIN
  PERFORM {{schema}}.api_check_time(enqueue.run_at, 'run_at');
  IF delay < -interval '100 years' OR delay > interval '100 years' THEN
    PERFORM {{schema}}.api_fail(format('delay must be within 100 years, got %s', delay));
  END IF;
  PERFORM {{schema}}.api_check_name(task, 'task');
  due := coalesce(enqueue.run_at, now()) + coalesce(delay, interval '0');
  PERFORM {{schema}}.api_check_name(queue, 'queue');
  IF conflict NOT IN ('raise', 'ignore', 'replace') THEN PERFORM {{schema}}.api_fail(format('conflict must be raise, ignore or replace, got %L', conflict)); END IF;
  IF retries IS NULL OR retries < 0 THEN PERFORM {{schema}}.api_fail(format('retries must be 0 or more, got %s', retries)); END IF;
  IF job_key IS NOT NULL AND (job_key = '' OR length(job_key) > 500) THEN PERFORM {{schema}}.api_fail('job_key must be 1-500 characters'); END IF;
  IF conflict <> 'raise' AND job_key IS NOT NULL THEN
    SELECT r.run_id INTO id FROM {{schema}}.runs r WHERE r.task = enqueue.task AND r.key = job_key FOR UPDATE;
    IF id IS NOT NULL THEN
      IF conflict = 'replace' THEN
        UPDATE {{schema}}.runs r SET payload = coalesce(enqueue.payload, '{}'), run_at = due, priority = enqueue.priority,
               queue = enqueue.queue, max_retries = retries
         WHERE r.run_id = id AND r.status = 'pending';
        IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('run %s with key %L is already running; replace only applies to pending runs', id, job_key), '23505'); END IF;
      END IF;
      RETURN id;
    END IF;
  END IF;
  INSERT INTO {{schema}}.runs (task, payload, run_at, priority, queue, key, max_retries)
  VALUES (task, coalesce(payload, '{}'), due, coalesce(priority, 5), queue, job_key, retries)
  RETURNING run_id INTO id;
  RETURN id;
END $$;

-- cron_next / cron_preview: `after` before year 1 overflowed the date arithmetic.
-- The expression and zone are checked first, NULL and infinite times are left to the originals,
-- so that messages and their order stay those of 0003.
CREATE FUNCTION {{schema}}.cron_after_in_range(expression text, timezone text, after timestamptz) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF isfinite(after) AND (after < '0001-01-01 00:00:00+00' OR after >= '10000-01-01 00:00:00+00') THEN
    PERFORM {{schema}}.cron_validate(expression, timezone);
    PERFORM {{schema}}.api_fail(format('after must be a finite time between the years 1 and 9999, got %s', after));
  END IF;
END $$;
ALTER FUNCTION {{schema}}.cron_next(text, text, timestamptz) RENAME TO cron_next_unchecked;
CREATE FUNCTION {{schema}}.cron_next(expression text, timezone text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM {{schema}}.cron_after_in_range(expression, timezone, after);
  RETURN {{schema}}.cron_next_unchecked(expression, timezone, after);
END $$;
ALTER FUNCTION {{schema}}.cron_preview(text, text, timestamptz, integer) RENAME TO cron_preview_unchecked;
CREATE FUNCTION {{schema}}.cron_preview(expression text, timezone text DEFAULT 'UTC', after timestamptz DEFAULT now(),
                                       count integer DEFAULT 10) RETURNS SETOF timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 10 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM {{schema}}.cron_after_in_range(expression, timezone, after);
  RETURN QUERY SELECT * FROM {{schema}}.cron_preview_unchecked(expression, timezone, after, count);
END $$;

-- The new functions get the grants 0004 gave the API: nothing to PUBLIC, all to the scheduler
-- role (the renamed ones keep theirs: the fronts are SECURITY INVOKER and call them).
DO $$
DECLARE
  s text := {{lit_schema}};
  f text;
  fronts text[] := ARRAY['api_check_ms(interval, text)', 'api_check_time(timestamptz, text)', 'cron_after_in_range(text, text, timestamptz)',
    'add_or_update_job(text, text, text, interval, timestamptz, integer)',
    'define_job(text, text, text, text[], interval, timestamptz, text, timestamptz, timestamptz, integer, text, interval, interval, text, text, name, interval, integer, integer, jsonb, text, text[], text[], text, jsonb, jsonb, text, integer, boolean)',
    'cron_next(text, text, timestamptz)', 'cron_preview(text, text, timestamptz, integer)'];
BEGIN
  -- runs_from_json (0005) came after 0004's blanket REVOKE and was left executable by PUBLIC.
  fronts := fronts || 'runs_from_json(jsonb, timestamptz)'::text;
  FOREACH f IN ARRAY fronts LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %I.%s FROM PUBLIC', s, f);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{lit_role_scheduler}}) THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO %I', s, f, {{lit_role_scheduler}});
    END IF;
  END LOOP;
END $$;

-- cron_zone (0003) checks zone names with pg_input_is_valid, which PostgreSQL 13-15 lack: there,
-- every zone with a slash ('Europe/Berlin') failed with "function does not exist" (found by the
-- SQL API fuzz test on PostgreSQL 15). On those versions the check becomes a cast in a
-- subtransaction (so cron_zone is no longer parallel safe there; the SQL API never runs in a
-- parallel query). 16+ keep 0003's function untouched.
CREATE FUNCTION {{schema}}.zone_is_valid(zone text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM ('2000-01-01 00:00:00 ' || zone)::timestamptz;
  RETURN true;
EXCEPTION WHEN data_exception THEN
  RETURN false;
END $$;
REVOKE ALL ON FUNCTION {{schema}}.zone_is_valid(text) FROM PUBLIC;
DO $$
DECLARE
  s text := {{lit_schema}};
  old_check text := 'pg_input_is_valid(''2000-01-01 00:00:00 '' || timezone, ''timestamptz'')';
  src text;
BEGIN
  IF current_setting('server_version_num')::integer >= 160000 THEN RETURN; END IF;
  SELECT prosrc INTO src FROM pg_proc WHERE oid = format('%I.cron_zone(text)', s)::regprocedure;
  IF strpos(src, old_check) = 0 THEN
    RAISE EXCEPTION 'kairos: %.cron_zone is not the one migration 3 created; cannot adapt it to PostgreSQL %', s, current_setting('server_version');
  END IF;
  EXECUTE format('CREATE OR REPLACE FUNCTION %I.cron_zone(timezone text) RETURNS text LANGUAGE plpgsql STABLE PARALLEL UNSAFE '
                 'SET search_path = pg_catalog, pg_temp AS %L', s, replace(src, old_check, format('%I.zone_is_valid(timezone)', s)));
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{lit_role_scheduler}}) THEN
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.zone_is_valid(text) TO %I', s, {{lit_role_scheduler}});
  END IF;
END $$;
