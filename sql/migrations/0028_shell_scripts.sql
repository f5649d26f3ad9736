-- Kairos schema, version 28: shell jobs of seed 000's API and pgAgent batch steps run through
-- /bin/sh, and a shell command that cannot run as written is refused when it is defined.
--
-- Why: pg_scheduler (seed 000) ran a shell job with COPY ... TO PROGRAM, i.e. /bin/sh -c, and its
-- README's example is a pipeline (echo ... | mail ...). Kairos split every shell command into argv
-- itself and refused `|`, `>`, `>>` ... only when the job ran, retried the refusal and then
-- disabled the job (issue #14, item 12). The model now: a shell command is either an argv command
-- line (options.shell false or absent: Kairos's splitter, no shell) or a /bin/sh script
-- (options.shell true). add_job/add_or_update_job store shell jobs with options.shell = true, and
-- set_steps gives a shell step options.shell = true unless the step says otherwise; define_job
-- keeps the argv default and its `options` choose. An argv command that the splitter
-- (src/executors/shell/argv.ts splitArgv) would refuse is refused here, by api_check_argv, with
-- 22023; test/sql/shell-definition.test.ts holds the two implementations together.
-- Safety: CREATE OR REPLACE of four functions and two new ones; rows are not changed (existing
-- seed-000 shell jobs keep running as argv until they are redefined). Forward-only, in one
-- transaction.

-- The rule of src/executors/shell/argv.ts splitArgv, as a check: raises 22023 saying why and where
-- when the command is not a plain command line (quotes and backslashes only), or has no program.
CREATE OR REPLACE FUNCTION {{schema}}.api_check_argv(command text, prefix text DEFAULT '')
 RETURNS void
 LANGUAGE plpgsql IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
  n integer := length(command);
  i integer := 1;
  c text;
  nx text;
  close integer;
  words integer := 0;
  started boolean := false;
  first_word text := NULL;
  word text := '';
  pending integer := 0;
  detail text;
  hint text := 'give options {"shell": true} to run it through /bin/sh, or use';
BEGIN
  IF command IS NULL OR command ~ '^\s*$' THEN
    PERFORM {{schema}}.api_fail(prefix || 'the shell command must not be empty');
  END IF;
  <<scan>>
  WHILE i <= n LOOP
    c := substr(command, i, 1);
    nx := substr(command, i + 1, 1);
    IF c IN (' ', E'\t', E'\r', E'\n') THEN
      IF c = E'\n' AND (words > 0 OR started) AND pending = 0 THEN pending := i; END IF;
      IF started THEN words := words + 1; first_word := coalesce(first_word, word); END IF;
      started := false; word := '';
      i := i + 1;
      CONTINUE;
    END IF;
    IF pending > 0 THEN
      detail := format('unquoted newline (a second command) at column %s; %s quotes to make it literal', pending, hint);
      EXIT scan;
    END IF;
    IF c = '''' THEN
      close := strpos(substr(command, i + 1), '''');
      IF close = 0 THEN detail := format('the '' opened at column %s is never closed', i); EXIT scan; END IF;
      word := word || substr(command, i + 1, close - 1);
      started := true;
      i := i + close + 1;
    ELSIF c = '"' THEN
      close := i;
      i := i + 1;
      LOOP
        IF i > n THEN detail := format('the " opened at column %s is never closed', close); EXIT scan; END IF;
        c := substr(command, i, 1);
        nx := substr(command, i + 1, 1);
        EXIT WHEN c = '"';
        IF c = '\' AND nx IN ('$', '`', '"', '\', E'\n') THEN
          IF nx <> E'\n' THEN word := word || nx; END IF;
          i := i + 2;
          CONTINUE;
        END IF;
        IF c = '`' OR (c = '$' AND nx ~ '^[A-Za-z0-9_({@*#?$!-]$') THEN
          detail := format('%s inside double quotes at column %s (this splitter does not expand it); %s single quotes or a backslash to make it literal',
                           CASE WHEN c = '`' THEN 'backquote' ELSE format('`$%s` expansion', nx) END, i, hint);
          EXIT scan;
        END IF;
        word := word || c;
        i := i + 1;
      END LOOP;
      started := true;
      i := i + 1;
    ELSIF c = '\' THEN
      IF i = n THEN detail := format('a trailing backslash at column %s escapes nothing', i); EXIT scan; END IF;
      IF nx = E'\n' THEN i := i + 2; CONTINUE; END IF;
      word := word || nx;
      started := true;
      i := i + 2;
    ELSE
      IF c IN ('|', '&', ';', '<', '>', '(', ')') THEN detail := format('`%s`', c);
      ELSIF c = '`' THEN detail := 'backquote';
      ELSIF c = '$' AND nx ~ '^[A-Za-z0-9_({@*#?$!-]$' THEN detail := format('`$%s` expansion', nx);
      ELSIF c = '#' AND NOT started THEN detail := '`#` (a shell comment)';
      END IF;
      IF detail IS NOT NULL THEN
        detail := format('unquoted %s at column %s; %s quotes to make it literal', detail, i, hint);
        EXIT scan;
      END IF;
      word := word || c;
      started := true;
      i := i + 1;
    END IF;
  END LOOP;
  IF detail IS NULL AND started THEN first_word := coalesce(first_word, word); END IF;
  IF detail IS NULL AND coalesce(first_word, '') = '' THEN detail := 'its first word must name a program'; END IF;
  IF detail IS NOT NULL THEN
    PERFORM {{schema}}.api_fail(format('%sthe shell command %L is not a plain command line (quotes and backslashes only): %s',
                                       prefix, left(command, 200), detail));
  END IF;
END $function$;

-- A job's or step's command of this kind: SQL that parses, or a shell command its owner may run
-- (member of the shell role) and that can run as written: any text through /bin/sh when
-- options.shell is true, else a plain argv command line (api_check_argv).
CREATE OR REPLACE FUNCTION {{schema}}.api_check_command(kind text, command text, owner name, options jsonb, prefix text DEFAULT '')
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
  IF kind = 'shell' THEN
    IF options IS NOT NULL AND jsonb_typeof(options) = 'object' AND options ? 'shell'
       AND jsonb_typeof(options->'shell') NOT IN ('boolean', 'null') THEN
      PERFORM {{schema}}.api_fail(format('%soptions.shell must be true (a /bin/sh script) or false (an argv command line), got %s', prefix, options->'shell'));
    END IF;
    IF command IS NULL OR btrim(command) = '' THEN PERFORM {{schema}}.api_fail(prefix || 'the shell command must not be empty'); END IF;
    PERFORM {{schema}}.api_check_shell(owner);
    IF coalesce((options->>'shell')::boolean, false) IS NOT TRUE THEN
      PERFORM {{schema}}.api_check_argv(command, prefix);
    END IF;
  ELSIF kind = 'sql' THEN
    PERFORM {{schema}}.api_check_sql(command);
  ELSE
    PERFORM {{schema}}.api_fail(format('%sjob type must be ''sql'' or ''shell'', got %L', prefix, kind));
  END IF;
END $function$;

CREATE OR REPLACE FUNCTION {{schema}}.add_or_update_job_unchecked(p_name text, p_type text, p_cmd text, p_interval interval DEFAULT NULL::interval, p_time timestamp with time zone DEFAULT NULL::timestamp with time zone, p_max_attempts integer DEFAULT 3)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
      'max_retries', p_max_attempts - 1)
      -- Seed 000's shell jobs are /bin/sh scripts (pg_scheduler ran them through COPY TO PROGRAM).
      || CASE WHEN p_type = 'shell' THEN jsonb_build_object('options',
           coalesce((SELECT j.options FROM {{schema}}.jobs j WHERE j.job_name = p_name), '{}') || '{"shell": true}')
         ELSE '{}' END,
    next_at, now());
  RETURN CASE WHEN existed THEN 'updated' ELSE 'created' END;
END $function$;

CREATE OR REPLACE FUNCTION {{schema}}.define_job_unchecked(job_name text, command text, job_type text DEFAULT 'sql'::text, cron text[] DEFAULT NULL::text[], every interval DEFAULT NULL::interval, at timestamp with time zone DEFAULT NULL::timestamp with time zone, timezone text DEFAULT 'UTC'::text, start_at timestamp with time zone DEFAULT NULL::timestamp with time zone, end_at timestamp with time zone DEFAULT NULL::timestamp with time zone, max_runs integer DEFAULT NULL::integer, catch_up text DEFAULT 'latest'::text, max_lateness interval DEFAULT '1 day'::interval, misfire_grace interval DEFAULT NULL::interval, overlap text DEFAULT 'skip'::text, database text DEFAULT NULL::text, run_as name DEFAULT CURRENT_USER, timeout interval DEFAULT NULL::interval, retries integer DEFAULT 0, max_attempts integer DEFAULT NULL::integer, exceptions jsonb DEFAULT '[]'::jsonb, node_name text DEFAULT NULL::text, node_tags text[] DEFAULT '{}'::text[], labels text[] DEFAULT '{}'::text[], description text DEFAULT NULL::text, options jsonb DEFAULT '{}'::jsonb, payload jsonb DEFAULT '{}'::jsonb, queue text DEFAULT 'default'::text, priority integer DEFAULT 5, enabled boolean DEFAULT true)
 RETURNS {{schema}}.member_job
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
    PERFORM {{schema}}.api_check_command(job_type, command, run_as, options);
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
END $function$;

CREATE OR REPLACE FUNCTION {{schema}}.set_steps(job_name text, steps jsonb)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
  job {{schema}}.jobs;
  step jsonb;
  pos integer := 0;
  timeout interval;
BEGIN
  PERFORM {{schema}}.api_check_payload(set_steps.steps, 'steps');
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
    -- pgAgent's batch steps are /bin/sh scripts: a shell step without options.shell gets true.
    IF step->>'kind' = 'shell' AND jsonb_typeof(step->'options') = 'object' AND NOT step->'options' ? 'shell' THEN
      step := jsonb_set(step, '{options,shell}', 'true');
    ELSIF step->>'kind' = 'shell' AND coalesce(jsonb_typeof(step->'options'), 'null') = 'null' THEN
      step := step || '{"options": {"shell": true}}';
    END IF;
    IF step ? 'options' AND jsonb_typeof(step->'options') NOT IN ('object', 'null') THEN
      PERFORM {{schema}}.api_fail(format('step %s: options must be a JSON object, got %s', pos, step->'options'));
    END IF;
    PERFORM {{schema}}.api_check_command(step->>'kind', step->>'command', job.owner, step->'options', format('step %s: ', pos));
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
END $function$;

DO $$
DECLARE
  s text := {{lit_schema}};
  who text := {{lit_role_scheduler}};
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['api_check_argv(text, text)', 'api_check_command(text, text, name, jsonb, text)'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %I.%s FROM PUBLIC', s, f);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who) THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO %I', s, f, who);
    END IF;
  END LOOP;
END $$;
