-- Kairos schema, version 33: the SQL API's enqueue() keeps a payload's null fields.
--
-- Why: enqueue() (migration 0032) built its one-run batch with jsonb_strip_nulls over the whole
-- item, to leave out the options the call did not give; jsonb_strip_nulls is recursive, so it
-- also took every null field out of the payload ('{"a": null, "b": 1}' was stored as '{"b": 1}'),
-- which the TypeScript API and a handler reading `payload.a === null` do not expect. Found by the
-- SQL API's property test (test/fuzz/sql-api.test.ts). Now only the options are stripped; the
-- payload is added afterwards as given.
-- Safety: CREATE OR REPLACE of one function with the same signature and grants; nothing is
-- locked beyond the catalog row. Forward-only, in one transaction.

CREATE OR REPLACE FUNCTION {{schema}}.enqueue(task text, payload jsonb DEFAULT '{}'::jsonb, run_at timestamptz DEFAULT NULL,
  priority integer DEFAULT NULL, queue text DEFAULT NULL, job_key text DEFAULT NULL, conflict text DEFAULT 'raise',
  retries integer DEFAULT NULL, delay interval DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id bigint;
BEGIN
  PERFORM {{schema}}.api_check_payload(enqueue.payload, 'payload');
  PERFORM {{schema}}.api_check_time(enqueue.run_at, 'run_at');
  IF delay < -interval '100 years' OR delay > interval '100 years' THEN
    PERFORM {{schema}}.api_fail(format('delay must be within 100 years, got %s', delay));
  END IF;
  PERFORM {{schema}}.api_check_name(task, 'task');
  IF queue IS NOT NULL THEN PERFORM {{schema}}.api_check_name(queue, 'queue'); END IF;
  IF conflict NOT IN ('raise', 'ignore', 'replace') THEN PERFORM {{schema}}.api_fail(format('conflict must be raise, ignore or replace, got %L', conflict)); END IF;
  IF retries < 0 THEN PERFORM {{schema}}.api_fail(format('retries must be 0 or more, got %s', retries)); END IF;
  IF job_key IS NOT NULL AND (job_key = '' OR length(job_key) > 500) THEN PERFORM {{schema}}.api_fail('job_key must be 1-500 characters'); END IF;
  -- A batch of one. What the call does not give (NULL) comes from the task registry, else the
  -- defaults (run_options, migration 0032): priority 5, queue 'default', 3 retries, backoff 1 s
  -- doubling up to 1 h, no timeout, no lock key; no expiry.
  SELECT r.run_id INTO id
    FROM {{schema}}.insert_runs(
           jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
             'task', task, 'queue', queue, 'priority', priority,
             'key', job_key, 'run_at', enqueue.run_at, 'delay_ms', round(extract(epoch FROM delay) * 1000),
             'max_retries', retries)) || jsonb_build_object('payload', coalesce(payload, '{}'))),
           NULL, NULL, conflict) r;
  IF id IS NULL THEN
    -- Not replaced, or (ignore) not found: one's own run that is running, or another role's run.
    SELECT r.run_id INTO id FROM {{schema}}.runs r WHERE r.task = enqueue.task AND r.key = job_key;
    IF id IS NOT NULL AND conflict = 'replace' THEN
      PERFORM {{schema}}.api_fail(format('run %s with key %L is already running; replace only applies to pending runs', id, job_key), '23505');
    END IF;
    IF id IS NULL THEN
      -- What the INSERT of a key held by a run the caller cannot see raised before (0004-0015).
      RAISE EXCEPTION 'duplicate key value violates unique constraint "runs_key"' USING ERRCODE = '23505',
        DETAIL = format('Key (task, key)=(%s, %s) already exists.', task, job_key), CONSTRAINT = 'runs_key',
        SCHEMA = {{lit_schema}}, TABLE = 'runs';
    END IF;
  END IF;
  RETURN id;
END $$;
