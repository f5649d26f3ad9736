-- Kairos schema, version 15: the SQL API caps JSON arguments like the TypeScript API caps payloads.
--
-- Why: the TypeScript API refuses payloads over 1 MiB (MAX_PAYLOAD_BYTES, src/core/validate.ts),
-- the SQL API took anything jsonb holds: six enqueue() calls with 100 MB payloads took a worker to
-- 1.6 GB RSS (issue #12, item 8). The cap is now settings.max_payload_bytes (default 1048576, the
-- TypeScript constant; test/security/sql-payload.test.ts holds the two equal), and applies to
-- every JSON argument of the API that a worker later loads: enqueue's and trigger_job's payload,
-- define_job's payload, options and exceptions, set_steps' steps. A tenant (job_scheduler) may
-- also INSERT runs and INSERT or UPDATE its jobs directly (0002's grants), so restrictive
-- row-level policies apply the same check to those rows.
--
-- Safety: the functions keep their signatures, grants and pinned search_path (CREATE OR REPLACE;
-- the bodies are 0008's with the check first), so nodes of version 14 keep working. The check
-- runs before anything is written and raises 22023 with the sizes and the setting's name. The
-- policies cost the table owner (the engine) nothing, as it bypasses row-level security; for a
-- tenant the cap is read once per statement. Tenants can read settings (0002) but not change it
-- (SELECT only); the CHECK below refuses a cap that is not a whole number of bytes. Lowering the
-- cap leaves stored rows alone; a tenant's later UPDATE of a job over the new cap is refused.

INSERT INTO {{schema}}.settings (key, value) VALUES ('max_payload_bytes', '1048576') ON CONFLICT (key) DO NOTHING;
ALTER TABLE {{schema}}.settings ADD CONSTRAINT settings_max_payload_bytes_check
  CHECK (key <> 'max_payload_bytes' OR value ~ '^[0-9]{1,12}$');

-- The installation's cap in bytes (the default when the row was deleted).
CREATE FUNCTION {{schema}}.max_payload_bytes() RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((SELECT s.value::bigint FROM {{schema}}.settings s WHERE s.key = 'max_payload_bytes'), 1048576)
$$;

-- Refuse JSON whose text is over the cap (true otherwise, so that policies can use it). Measured
-- as PostgreSQL prints jsonb (`{"a": 1}`), which is what the size of a stored value means here.
CREATE FUNCTION {{schema}}.api_check_payload(value jsonb, field text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bytes bigint;
  cap bigint;
BEGIN
  IF value IS NULL THEN RETURN true; END IF;
  bytes := octet_length(value::text);
  cap := {{schema}}.max_payload_bytes();
  IF bytes > cap THEN
    PERFORM {{schema}}.api_fail(format('%s is %s bytes, over the installation''s cap of %s bytes (settings.max_payload_bytes)', field, bytes, cap));
  END IF;
  RETURN true;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.define_job(
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
  PERFORM {{schema}}.api_check_payload(payload, 'payload'), {{schema}}.api_check_payload(options, 'options'),
          {{schema}}.api_check_payload(exceptions, 'exceptions');
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

CREATE OR REPLACE FUNCTION {{schema}}.set_steps(job_name text, steps jsonb) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
  PERFORM {{schema}}.api_check_payload(trigger_job.payload, 'payload');
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
  PERFORM {{schema}}.api_check_payload(enqueue.payload, 'payload');
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

-- Direct writes by roles under row-level security (tenants). Restrictive: they narrow what
-- member_rows allows. The comparison reads the cap once per statement (the sub-select); only a row
-- over it calls api_check_payload, which raises the message above.
CREATE POLICY payload_cap ON {{schema}}.runs AS RESTRICTIVE FOR INSERT
  WITH CHECK (octet_length(payload::text) <= (SELECT {{schema}}.max_payload_bytes()) OR {{schema}}.api_check_payload(payload, 'payload'));
CREATE POLICY payload_cap_insert ON {{schema}}.jobs AS RESTRICTIVE FOR INSERT
  WITH CHECK ((octet_length(payload::text) <= (SELECT {{schema}}.max_payload_bytes()) OR {{schema}}.api_check_payload(payload, 'payload'))
          AND (octet_length(options::text) <= (SELECT {{schema}}.max_payload_bytes()) OR {{schema}}.api_check_payload(options, 'options'))
          AND (octet_length(exceptions::text) <= (SELECT {{schema}}.max_payload_bytes()) OR {{schema}}.api_check_payload(exceptions, 'exceptions')));
CREATE POLICY payload_cap_update ON {{schema}}.jobs AS RESTRICTIVE FOR UPDATE USING (true)
  WITH CHECK ((octet_length(payload::text) <= (SELECT {{schema}}.max_payload_bytes()) OR {{schema}}.api_check_payload(payload, 'payload'))
          AND (octet_length(options::text) <= (SELECT {{schema}}.max_payload_bytes()) OR {{schema}}.api_check_payload(options, 'options'))
          AND (octet_length(exceptions::text) <= (SELECT {{schema}}.max_payload_bytes()) OR {{schema}}.api_check_payload(exceptions, 'exceptions')));

-- The new functions get the API's grants: nothing to PUBLIC, EXECUTE to the scheduler role (its
-- members' writes evaluate the policies above).
DO $$
DECLARE
  s text := {{lit_schema}};
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['max_payload_bytes()', 'api_check_payload(jsonb, text)'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %I.%s FROM PUBLIC', s, f);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{lit_role_scheduler}}) THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO %I', s, f, {{lit_role_scheduler}});
    END IF;
  END LOOP;
END $$;
