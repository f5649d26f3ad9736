-- Kairos schema, version 4: the SQL API, callable from psql and from triggers.
-- * pg_scheduler's functions with their exact names and arguments: add_job / add_or_update_job,
--   toggle_job, delete_job(name), execute_job, execute_shell_command;
-- * elephant_worker's: insert_job, update_job, delete_job(id) (and its README's `delete`);
-- * pg_cron-style: schedule, schedule_in_database, unschedule, alter_job;
-- * Kairos's own: define_job, set_steps, trigger_job, enqueue, cancel_run, preview.
-- All are SECURITY INVOKER: row-level security applies to the caller. Bad input raises an ERROR
-- (SQLSTATE 22023 for bad values, 42501 for missing privileges, P0002 for unknown jobs) before
-- anything is written. Functions that run no user SQL pin search_path.

-- ---------------------------------------------------------------- checks

CREATE FUNCTION {{schema}}.api_fail(message text, code text DEFAULT '22023') RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
END $$;

CREATE FUNCTION {{schema}}.api_check_name(value text, field text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF value IS NULL OR length(value) NOT BETWEEN 1 AND 200 OR value !~ '^[A-Za-z0-9_][A-Za-z0-9_.:/@ -]*$' OR value <> btrim(value) THEN
    PERFORM {{schema}}.api_fail(format('%s must be 1-200 characters of letters, digits, spaces and _ . : - / @ (not starting with a symbol or space), got %L', field, value));
  END IF;
  RETURN value;
END $$;

-- Syntax-check SQL without running it: compile it as the body of a throw-away SQL function in a
-- subtransaction. Only syntax errors refuse it; a missing table may exist when the job runs, or
-- in the job's target database.
CREATE FUNCTION {{schema}}.api_check_sql(command text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF command IS NULL OR btrim(command) = '' THEN
    PERFORM {{schema}}.api_fail('the SQL command must not be empty');
  END IF;
  BEGIN
    SET LOCAL check_function_bodies = on;
    EXECUTE format('CREATE FUNCTION pg_temp.kairos_syntax_check() RETURNS void LANGUAGE sql AS %L', command);
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'kairos: rollback syntax check';
  EXCEPTION
    WHEN syntax_error THEN
      PERFORM {{schema}}.api_fail(format('invalid SQL: %s', SQLERRM));
    WHEN OTHERS THEN
      NULL; -- parsed; anything else (missing objects, rollback marker) is for run time
  END;
END $$;

-- Intervals must have a fixed length (no months or years) and be at least a second.
CREATE FUNCTION {{schema}}.api_check_interval(every interval, field text) RETURNS interval
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF every IS NULL THEN RETURN NULL; END IF;
  IF extract(month FROM every) <> 0 OR extract(year FROM every) <> 0 THEN
    PERFORM {{schema}}.api_fail(format('%s %s has months or years, which have no fixed length; use days', field, every));
  END IF;
  IF every < interval '1 second' THEN
    PERFORM {{schema}}.api_fail(format('%s must be at least 1 second, got %s', field, every));
  END IF;
  RETURN every;
END $$;

-- The first point of the grid anchor + k * every strictly after `after` (never drifts).
CREATE FUNCTION {{schema}}.interval_next(anchor timestamptz, every interval, after timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN after < anchor THEN anchor
              ELSE anchor + every * (floor(extract(epoch FROM after - anchor) / extract(epoch FROM every)) + 1) END
$$;

-- The role of shell jobs (configurable at install time).
CREATE FUNCTION {{schema}}.api_check_shell(owner name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  shell_role text := (SELECT value FROM {{schema}}.settings WHERE key = 'role_shell');
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = shell_role) OR NOT pg_has_role(owner, shell_role, 'MEMBER') THEN
    PERFORM {{schema}}.api_fail(format('shell jobs run commands on the agent''s host: the job owner %I must be a member of role %I (and the agent must run with --allow-shell)', owner, shell_role), '42501');
  END IF;
END $$;

CREATE FUNCTION {{schema}}.api_check_owner(owner name) RETURNS name
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF owner IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = owner) THEN
    PERFORM {{schema}}.api_fail(format('role %L does not exist', owner));
  END IF;
  IF NOT pg_has_role(current_user, owner, 'MEMBER') THEN
    PERFORM {{schema}}.api_fail(format('%I may not create or change jobs of role %I (not a member of it)', current_user, owner), '42501');
  END IF;
  RETURN owner;
END $$;

-- Check a command of a given kind, as its owner would run it.
CREATE FUNCTION {{schema}}.api_check_command(kind text, command text, owner name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF kind = 'sql' THEN
    PERFORM {{schema}}.api_check_sql(command);
  ELSIF kind = 'shell' THEN
    IF command IS NULL OR btrim(command) = '' THEN PERFORM {{schema}}.api_fail('the shell command must not be empty'); END IF;
    PERFORM {{schema}}.api_check_shell(owner);
  ELSE
    PERFORM {{schema}}.api_fail(format('job type must be ''sql'' or ''shell'', got %L', kind));
  END IF;
END $$;

-- The first fire time of a cron schedule (one crontab line per array element) after now.
CREATE FUNCTION {{schema}}.api_cron_first(lines text[], timezone text) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  line text;
  first timestamptz;
BEGIN
  IF lines IS NULL OR cardinality(lines) = 0 THEN
    PERFORM {{schema}}.api_fail('a schedule needs at least one crontab line');
  END IF;
  FOREACH line IN ARRAY lines LOOP
    PERFORM {{schema}}.cron_validate(line, timezone);
    first := least(first, {{schema}}.cron_next(line, timezone, now() - interval '1 millisecond'));
  END LOOP;
  RETURN first;
END $$;

-- ---------------------------------------------------------------- pg_scheduler's API

-- Add or update a job by name: recurring every p_interval from p_time (the grid's anchor), or once
-- at p_time. A failed attempt is retried with backoff; after p_max_attempts consecutive failed
-- attempts the job disables itself. Returns 'created' or 'updated'.
CREATE FUNCTION {{schema}}.add_or_update_job(p_name text, p_type text, p_cmd text, p_interval interval DEFAULT NULL,
                                            p_time timestamptz DEFAULT NULL, p_max_attempts integer DEFAULT 3) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kind text;
  anchor timestamptz;
  next_at timestamptz;
  inserted boolean;
BEGIN
  PERFORM {{schema}}.api_check_name(p_name, 'job name');
  PERFORM {{schema}}.api_check_command(p_type, p_cmd, current_user);
  IF p_max_attempts IS NULL OR p_max_attempts < 1 THEN
    PERFORM {{schema}}.api_fail(format('max_attempts must be at least 1, got %s', coalesce(p_max_attempts::text, 'NULL')));
  END IF;
  IF p_interval IS NOT NULL THEN
    PERFORM {{schema}}.api_check_interval(p_interval, 'interval');
    kind := 'interval';
    anchor := coalesce(p_time, now());
    next_at := {{schema}}.interval_next(anchor, p_interval, now() - interval '1 microsecond');
  ELSIF p_time IS NOT NULL THEN
    kind := 'once';
    anchor := p_time;
    next_at := p_time;
  ELSE
    PERFORM {{schema}}.api_fail('give an interval (a recurring job), a start time (a one-time job), or both');
  END IF;
  INSERT INTO {{schema}}.jobs AS j (job_name, job_type, command, schedule_kind, schedule_interval, schedule_time,
                                    max_attempts, max_retries, next_run, planned)
  VALUES (p_name, p_type, p_cmd, kind, p_interval, anchor, p_max_attempts, p_max_attempts - 1, next_at, true)
  ON CONFLICT ON CONSTRAINT jobs_job_name_key DO UPDATE
     SET job_type = excluded.job_type, command = excluded.command, schedule_kind = excluded.schedule_kind,
         cron = NULL, schedule_interval = excluded.schedule_interval, schedule_time = excluded.schedule_time,
         max_attempts = excluded.max_attempts, max_retries = excluded.max_retries, next_run = excluded.next_run,
         planned = true, run_count = 0, updated_at = now()
  RETURNING (xmax = 0) INTO inserted;
  RETURN CASE WHEN inserted THEN 'created' ELSE 'updated' END;
END $$;

-- pg_scheduler's original name for add_or_update_job.
CREATE FUNCTION {{schema}}.add_job(p_name text, p_type text, p_cmd text, p_interval interval DEFAULT NULL,
                                  p_time timestamptz DEFAULT NULL, p_max_attempts integer DEFAULT 3) RETURNS text
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
  SELECT {{schema}}.add_or_update_job(p_name, p_type, p_cmd, p_interval, p_time, p_max_attempts)
$$;

-- Enable or disable a job. Enabling resets the consecutive-failure count and plans from now.
CREATE FUNCTION {{schema}}.toggle_job(p_name text, p_enabled boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_enabled IS NULL THEN PERFORM {{schema}}.api_fail('enabled must be true or false, got NULL'); END IF;
  UPDATE {{schema}}.jobs j
     SET enabled = p_enabled, updated_at = now(),
         current_attempts = CASE WHEN p_enabled THEN 0 ELSE j.current_attempts END,
         next_run = CASE
           WHEN NOT p_enabled THEN j.next_run
           WHEN j.schedule_kind = 'interval' THEN {{schema}}.interval_next(j.schedule_time, j.schedule_interval, now() - interval '1 microsecond')
           WHEN j.schedule_kind = 'once' THEN CASE WHEN j.run_count > 0 THEN NULL ELSE j.schedule_time END
           ELSE NULL END,
         planned = CASE WHEN p_enabled THEN j.schedule_kind IN ('interval', 'once', 'manual') ELSE j.planned END
   WHERE j.job_name = p_name;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job named %L', p_name), 'P0002'); END IF;
END $$;

-- Delete a job by name, with its queued runs and its logs.
CREATE FUNCTION {{schema}}.delete_job(p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM {{schema}}.jobs WHERE job_name = p_name;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job named %L', p_name), 'P0002'); END IF;
END $$;

-- Run a job now, in the calling session and as the calling role (for testing, as pg_scheduler
-- does): SQL is executed, shell commands go through COPY … TO PROGRAM on the database host. The
-- outcome is logged; a failure counts towards disabling the job. The caller's transaction decides
-- whether the job's effects (and the log) are kept. search_path is the caller's.
CREATE FUNCTION {{schema}}.execute_job(target_job_id integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  j {{schema}}.jobs;
  started timestamptz := clock_timestamp();
  ok boolean;
  msg text;
BEGIN
  SELECT * INTO j FROM {{schema}}.jobs WHERE job_id = target_job_id;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job with id %s', target_job_id), 'P0002'); END IF;
  BEGIN
    IF j.job_type = 'sql' THEN
      EXECUTE j.command;
    ELSIF j.job_type = 'shell' THEN
      PERFORM {{schema}}.api_check_shell(j.owner);
      EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', j.command);
    ELSE
      PERFORM {{schema}}.api_fail(format('execute_job runs sql and shell jobs; use trigger_job for %s jobs', j.job_type));
    END IF;
    ok := true;
    msg := 'Success';
  EXCEPTION WHEN OTHERS THEN
    ok := false;
    msg := SQLERRM;
  END;
  INSERT INTO {{schema}}.job_logs (job_id, run_id, task, queue, attempt, status, run_time, finished_at, duration, message, owner)
  VALUES (j.job_id, nextval(pg_get_serial_sequence('{{schema}}.runs', 'run_id')), '@' || j.job_type, j.queue, 1,
          CASE WHEN ok THEN 'completed' ELSE 'failed' END, started, clock_timestamp(), clock_timestamp() - started, msg, j.owner);
  UPDATE {{schema}}.jobs
     SET last_run = started, last_status = ok, last_message = CASE WHEN ok THEN NULL ELSE msg END,
         current_attempts = CASE WHEN ok THEN 0 ELSE current_attempts + 1 END,
         enabled = enabled AND (ok OR max_attempts IS NULL OR current_attempts + 1 < max_attempts)
   WHERE job_id = j.job_id;
END $$;

-- Run a shell command on the database host (needs superuser or pg_execute_server_program).
CREATE FUNCTION {{schema}}.execute_shell_command(cmd text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF cmd IS NULL OR btrim(cmd) = '' THEN PERFORM {{schema}}.api_fail('the shell command must not be empty'); END IF;
  EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', cmd);
END $$;

-- ---------------------------------------------------------------- elephant_worker's API

-- Define a SQL job from crontab lines (NULL: runs only when triggered), owned by rolname (a role
-- the caller is a member of), run in database datname. parallel = overlapping runs allowed.
CREATE FUNCTION {{schema}}.insert_job(job_command text, datname name DEFAULT current_catalog, schedule text[] DEFAULT NULL,
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
  IF job_timeout IS NOT NULL AND job_timeout <= interval '0' THEN
    PERFORM {{schema}}.api_fail(format('job_timeout must be positive, got %s', job_timeout));
  END IF;
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

-- Change a job; every argument but job_id is optional (NULL keeps the current value).
CREATE FUNCTION {{schema}}.update_job(job_id integer, job_command text DEFAULT NULL, datname name DEFAULT NULL,
                                     schedule text[] DEFAULT NULL, rolname name DEFAULT NULL,
                                     job_description text DEFAULT NULL, enabled boolean DEFAULT NULL,
                                     job_timeout interval DEFAULT NULL, parallel boolean DEFAULT NULL) RETURNS {{schema}}.member_job
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  result {{schema}}.member_job;
BEGIN
  IF rolname IS NOT NULL THEN PERFORM {{schema}}.api_check_owner(rolname); END IF;
  IF job_command IS NOT NULL THEN PERFORM {{schema}}.api_check_sql(job_command); END IF;
  IF job_timeout IS NOT NULL AND job_timeout <= interval '0' THEN
    PERFORM {{schema}}.api_fail(format('job_timeout must be positive, got %s', job_timeout));
  END IF;
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

-- Delete a job by id; returns it as it was.
CREATE FUNCTION {{schema}}.delete_job(job_id integer) RETURNS {{schema}}.member_job
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  result {{schema}}.member_job;
BEGIN
  SELECT * INTO result FROM {{schema}}.member_job m WHERE m.job_id = delete_job.job_id;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job with id %s', delete_job.job_id), 'P0002'); END IF;
  DELETE FROM {{schema}}.jobs j WHERE j.job_id = delete_job.job_id;
  RETURN result;
END $$;

-- elephant_worker's README calls it `delete(job_id)`.
CREATE FUNCTION {{schema}}.delete(job_id integer) RETURNS {{schema}}.member_job
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
  SELECT * FROM {{schema}}.delete_job(job_id)
$$;

-- ---------------------------------------------------------------- pg_cron-style API

-- A schedule string: a cron expression, or pg_cron's '[1-59] seconds'.
CREATE FUNCTION {{schema}}.api_apply_schedule(job {{schema}}.jobs, schedule text) RETURNS {{schema}}.jobs
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  secs integer;
BEGIN
  IF schedule ~* '^\s*[0-9]+\s+seconds?\s*$' THEN
    secs := substring(schedule FROM '[0-9]+')::integer;
    IF secs NOT BETWEEN 1 AND 59 THEN
      PERFORM {{schema}}.api_fail(format('an interval schedule must be 1-59 seconds, got %L', schedule));
    END IF;
    job.schedule_kind := 'interval';
    job.cron := NULL;
    job.schedule_interval := make_interval(secs => secs);
    job.schedule_time := date_trunc('second', now());
    job.next_run := {{schema}}.interval_next(job.schedule_time, job.schedule_interval, now());
  ELSE
    job.schedule_kind := 'cron';
    job.cron := btrim(schedule);
    job.schedule_interval := NULL;
    job.next_run := {{schema}}.api_cron_first(ARRAY[btrim(schedule)], job.timezone);
  END IF;
  job.planned := true;
  job.run_count := 0;
  RETURN job;
END $$;

-- Schedule a SQL command in `database` as `username` (default: here, as the caller); an existing
-- job of the same name is updated (as pg_cron does). Returns the job id.
CREATE FUNCTION {{schema}}.schedule_in_database(job_name text, schedule text, command text, database text,
                                               username text DEFAULT NULL, active boolean DEFAULT true) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  job {{schema}}.jobs;
  existing integer;
BEGIN
  PERFORM {{schema}}.api_check_name(job_name, 'job name');
  PERFORM {{schema}}.api_check_sql(command);
  PERFORM {{schema}}.api_check_owner(coalesce(username, current_user));
  SELECT j.job_id INTO existing FROM {{schema}}.jobs j WHERE j.job_name = schedule_in_database.job_name FOR UPDATE;
  job := jsonb_populate_record(NULL::{{schema}}.jobs, jsonb_build_object('job_name', job_name, 'job_type', 'sql', 'command', command, 'timezone', 'UTC'));
  job := {{schema}}.api_apply_schedule(job, schedule);
  INSERT INTO {{schema}}.jobs AS j (job_name, job_type, command, schedule_kind, cron, schedule_interval, schedule_time,
                                    next_run, planned, database_name, owner, enabled, max_attempts)
  VALUES (job.job_name, 'sql', command, job.schedule_kind, job.cron, job.schedule_interval, job.schedule_time,
          job.next_run, true, database, coalesce(username, current_user), coalesce(active, true), NULL)
  ON CONFLICT ON CONSTRAINT jobs_job_name_key DO UPDATE
     SET command = excluded.command, schedule_kind = excluded.schedule_kind, cron = excluded.cron,
         schedule_interval = excluded.schedule_interval, schedule_time = excluded.schedule_time,
         next_run = excluded.next_run, planned = true, run_count = 0, database_name = excluded.database_name,
         owner = excluded.owner, enabled = excluded.enabled, updated_at = now()
  RETURNING j.job_id INTO existing;
  RETURN existing;
END $$;

-- Schedule a SQL command in this database, as the caller.
CREATE FUNCTION {{schema}}.schedule(job_name text, schedule text, command text) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
  SELECT {{schema}}.schedule_in_database(job_name, schedule, command, current_catalog, NULL, true)
$$;

-- pg_cron's unnamed form: the job is named after its id.
CREATE FUNCTION {{schema}}.schedule(schedule text, command text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id bigint;
BEGIN
  id := {{schema}}.schedule_in_database('unnamed_' || md5(schedule || E'\n' || command), schedule, command, current_catalog, NULL, true);
  RETURN id;
END $$;

-- Remove a job (by id or by name). Returns true when one was removed.
CREATE FUNCTION {{schema}}.unschedule(job_id bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM {{schema}}.jobs j WHERE j.job_id = unschedule.job_id;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job with id %s', unschedule.job_id), 'P0002'); END IF;
  RETURN true;
END $$;

CREATE FUNCTION {{schema}}.unschedule(job_name text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM {{schema}}.jobs j WHERE j.job_name = unschedule.job_name;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job named %L', unschedule.job_name), 'P0002'); END IF;
  RETURN true;
END $$;

-- Change a job's schedule, command, database, owner or activity (NULL keeps the current value).
CREATE FUNCTION {{schema}}.alter_job(job_id bigint, schedule text DEFAULT NULL, command text DEFAULT NULL,
                                    database text DEFAULT NULL, username text DEFAULT NULL, active boolean DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  job {{schema}}.jobs;
BEGIN
  SELECT * INTO job FROM {{schema}}.jobs j WHERE j.job_id = alter_job.job_id FOR UPDATE;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job with id %s', alter_job.job_id), 'P0002'); END IF;
  IF command IS NOT NULL THEN PERFORM {{schema}}.api_check_sql(command); END IF;
  IF username IS NOT NULL THEN PERFORM {{schema}}.api_check_owner(username); END IF;
  IF schedule IS NOT NULL THEN job := {{schema}}.api_apply_schedule(job, schedule); END IF;
  UPDATE {{schema}}.jobs j
     SET schedule_kind = job.schedule_kind, cron = job.cron, schedule_interval = job.schedule_interval,
         schedule_time = job.schedule_time, next_run = job.next_run, run_count = job.run_count,
         command = coalesce(alter_job.command, j.command), database_name = coalesce(alter_job.database, j.database_name),
         owner = coalesce(alter_job.username, j.owner), enabled = coalesce(alter_job.active, j.enabled),
         current_attempts = CASE WHEN alter_job.active AND NOT j.enabled THEN 0 ELSE j.current_attempts END,
         updated_at = now()
   WHERE j.job_id = alter_job.job_id;
END $$;

-- ---------------------------------------------------------------- Kairos's own API

-- Create or update a job by name with every option Kairos has. Give one of cron (one or more
-- crontab lines), every (+ start_at as anchor) or at; none makes a job that runs when triggered.
-- job_type 'task' enqueues the JavaScript task named by `command` with `payload`.
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
DECLARE
  kinds integer := (cron IS NOT NULL)::integer + (every IS NOT NULL)::integer + (at IS NOT NULL)::integer;
  kind text := CASE WHEN cron IS NOT NULL THEN 'cron' WHEN every IS NOT NULL THEN 'interval' WHEN at IS NOT NULL THEN 'once' ELSE 'manual' END;
  next_at timestamptz;
  anchor timestamptz;
  id integer;
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
  IF kind = 'cron' THEN
    next_at := {{schema}}.api_cron_first(cron, timezone);
    IF start_at > now() THEN next_at := {{schema}}.api_cron_first_after(cron, timezone, start_at); END IF;
  ELSIF kind = 'interval' THEN
    PERFORM {{schema}}.api_check_interval(every, 'every');
    anchor := coalesce(start_at, now());
    next_at := {{schema}}.interval_next(anchor, every, now() - interval '1 microsecond');
  ELSIF kind = 'once' THEN
    anchor := at;
    next_at := at;
  END IF;
  IF end_at IS NOT NULL AND next_at > end_at THEN next_at := NULL; END IF;
  INSERT INTO {{schema}}.jobs AS j (job_name, job_type, command, schedule_kind, cron, schedule_interval, schedule_time,
         timezone, end_time, max_runs, catch_up, max_lateness_ms, misfire_grace_ms, overlap, database_name, owner,
         timeout_ms, max_retries, max_attempts, exceptions, node_name, node_tags, labels, description, options,
         payload, queue, priority, enabled, next_run, planned)
  VALUES (job_name, job_type, command, kind, array_to_string(cron, E'\n'), every, anchor, timezone, end_at, max_runs,
          catch_up, (extract(epoch FROM max_lateness) * 1000)::bigint, (extract(epoch FROM misfire_grace) * 1000)::bigint,
          overlap, database, run_as, (extract(epoch FROM timeout) * 1000)::integer, retries, max_attempts, exceptions,
          node_name, coalesce(node_tags, '{}'), coalesce(labels, '{}'), description, coalesce(options, '{}'),
          coalesce(payload, '{}'), queue, coalesce(priority, 5), coalesce(enabled, true), next_at, true)
  ON CONFLICT ON CONSTRAINT jobs_job_name_key DO UPDATE
     SET job_type = excluded.job_type, command = excluded.command, schedule_kind = excluded.schedule_kind,
         cron = excluded.cron, schedule_interval = excluded.schedule_interval, schedule_time = excluded.schedule_time,
         timezone = excluded.timezone, end_time = excluded.end_time, max_runs = excluded.max_runs,
         catch_up = excluded.catch_up, max_lateness_ms = excluded.max_lateness_ms,
         misfire_grace_ms = excluded.misfire_grace_ms, overlap = excluded.overlap,
         database_name = excluded.database_name, owner = excluded.owner, timeout_ms = excluded.timeout_ms,
         max_retries = excluded.max_retries, max_attempts = excluded.max_attempts, exceptions = excluded.exceptions,
         node_name = excluded.node_name, node_tags = excluded.node_tags, labels = excluded.labels,
         description = excluded.description, options = excluded.options, payload = excluded.payload,
         queue = excluded.queue, priority = excluded.priority, enabled = excluded.enabled,
         next_run = excluded.next_run, planned = true, run_count = 0, updated_at = now()
  RETURNING j.job_id INTO id;
  SELECT * INTO result FROM {{schema}}.member_job m WHERE m.job_id = id;
  RETURN result;
END $$;

CREATE FUNCTION {{schema}}.api_cron_first_after(lines text[], timezone text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN (SELECT min({{schema}}.cron_next(line, timezone, after - interval '1 millisecond')) FROM unnest(lines) AS line);
END $$;

-- Replace the steps of a job (and make it a multi-step job). `steps` is a JSON array of
-- {"name", "kind": "sql"|"shell", "command", "database", "on_error": "fail"|"success"|"ignore",
--  "resumable": bool, "timeout": "30 seconds", "options": {...}}, run in array order.
CREATE FUNCTION {{schema}}.set_steps(job_name text, steps jsonb) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  job {{schema}}.jobs;
  step jsonb;
  pos integer := 0;
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
    IF coalesce(step->>'on_error', 'fail') NOT IN ('fail', 'success', 'ignore') THEN
      PERFORM {{schema}}.api_fail(format('step %s: on_error must be fail, success or ignore, got %L', pos, step->>'on_error'));
    END IF;
    INSERT INTO {{schema}}.job_steps (job_id, position, name, kind, command, database_name, on_error, resumable, timeout_ms, options)
    VALUES (job.job_id, pos, coalesce(step->>'name', 'step ' || pos), step->>'kind', step->>'command', step->>'database',
            coalesce(step->>'on_error', 'fail'), coalesce((step->>'resumable')::boolean, false),
            (extract(epoch FROM (step->>'timeout')::interval) * 1000)::integer, coalesce(step->'options', '{}'));
  END LOOP;
  UPDATE {{schema}}.jobs j SET job_type = 'steps', updated_at = now() WHERE j.job_id = job.job_id;
  RETURN pos;
END $$;

-- Run a job now, outside its schedule (an agent picks it up at once). Returns the run id.
CREATE FUNCTION {{schema}}.trigger_job(job_name text, payload jsonb DEFAULT NULL, run_at timestamptz DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id bigint;
BEGIN
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

-- Enqueue a run of a JavaScript task: usable from triggers, in the caller's transaction.
-- conflict: what a pending or running run with the same (task, job_key) means — 'raise' (error),
-- 'ignore' (return the existing run's id) or 'replace' (update the pending run).
CREATE FUNCTION {{schema}}.enqueue(task text, payload jsonb DEFAULT '{}', run_at timestamptz DEFAULT NULL,
                                  priority integer DEFAULT 5, queue text DEFAULT 'default', job_key text DEFAULT NULL,
                                  conflict text DEFAULT 'raise', retries integer DEFAULT 3, delay interval DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id bigint;
  due timestamptz := coalesce(enqueue.run_at, now()) + coalesce(delay, interval '0');
BEGIN
  PERFORM {{schema}}.api_check_name(task, 'task');
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

-- Cancel a run: a pending one leaves the queue as 'cancelled' at once; a running one is flagged
-- and its node told through NOTIFY (its heartbeat sees the flag too). Returns the run's previous
-- status, task and key (no row: no such live run).
CREATE FUNCTION {{schema}}.cancel_run_details(target bigint, at timestamptz DEFAULT NULL, reason text DEFAULT NULL)
RETURNS TABLE (previous text, task text, key text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r {{schema}}.runs;
BEGIN
  SELECT * INTO r FROM {{schema}}.runs x WHERE x.run_id = target FOR UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  IF r.status = 'pending' THEN
    DELETE FROM {{schema}}.runs x WHERE x.run_id = target;
    INSERT INTO {{schema}}.job_logs (job_id, run_id, task, queue, key, attempt, status, scheduled_at, finished_at, message, payload, owner)
    VALUES (r.job_id, r.run_id, r.task, r.queue, r.key, r.attempt, 'cancelled', r.scheduled_at, coalesce(at, now()),
            coalesce(reason, 'cancelled before it started'), r.payload, r.owner);
  ELSE
    UPDATE {{schema}}.runs x SET cancel_requested = true WHERE x.run_id = target;
    PERFORM pg_notify({{channel}}, json_build_object('t', 'cancel', 'run', r.run_id, 'node', r.node_id, 'reason', reason)::text);
  END IF;
  RETURN QUERY SELECT r.status, r.task, r.key;
END $$;

-- Cancel a run from SQL: 'cancelled' (it was pending) or 'cancelling' (its node stops it).
CREATE FUNCTION {{schema}}.cancel_run(run_id bigint, reason text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  prev text;
BEGIN
  SELECT d.previous INTO prev FROM {{schema}}.cancel_run_details(cancel_run.run_id, NULL, reason) d;
  IF prev IS NULL THEN PERFORM {{schema}}.api_fail(format('no pending or running run %s', cancel_run.run_id), 'P0002'); END IF;
  RETURN CASE WHEN prev = 'pending' THEN 'cancelled' ELSE 'cancelling' END;
END $$;

-- The next `count` fire times of a cron schedule.
CREATE FUNCTION {{schema}}.preview(schedule text, timezone text DEFAULT 'UTC', count integer DEFAULT 10) RETURNS SETOF timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN QUERY SELECT * FROM {{schema}}.cron_preview(schedule, timezone, now(), count);
END $$;

-- Grants: the API to the scheduler and monitor roles, when they exist.
DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', {{lit_schema}});
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{lit_role_scheduler}}) THEN
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', {{lit_schema}}, {{lit_role_scheduler}});
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{lit_role_monitor}}) THEN
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.preview(text, text, integer) TO %I', {{lit_schema}}, {{lit_role_monitor}});
  END IF;
END $$;
