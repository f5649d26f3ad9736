-- Kairos schema, version 31: a one-time job whose time has passed when it is defined fires once, at once.
--
-- Why: a one-time job defined for a time already past fired at once when the time was within its
-- max_lateness (a day by default) and never when it was older, while `kairos jobs add --at <past>`
-- printed the past time as the next run (issue #14, item 15). The rule now, for every API (the
-- TypeScript schedule({ at }), define_job, pg_scheduler's add_job with a start_time alone,
-- elephant_worker's insert_job, the CLI, the dashboard, all through store_job): the first run of a
-- new or changed one-time schedule is max(at, now); the definition, not an outage, made it late,
-- so the catch-up policy does not drop it. `at` is kept as given (schedule_time). Re-declaring the
-- same one-time job (a replica at start-up) changes nothing, so it does not run again; an outage
-- after the definition is still judged by the catch-up policy.
-- Safety: store_job (migration 0020) is replaced with the same signature and grants, two lines
-- added. No data changes. Forward-only, in one transaction.

CREATE OR REPLACE FUNCTION {{schema}}.store_job(definition jsonb, first_next_run timestamptz, at timestamptz)
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
    IF new_job.schedule_kind = 'once' AND first_next_run < clock THEN first_next_run := clock; END IF;
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
  IF new_job.schedule_kind = 'once' AND first_next_run < clock THEN first_next_run := clock; END IF;
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
