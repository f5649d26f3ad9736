-- Kairos schema, version 32: a task's run options live in a registry every enqueuer reads.
--
-- Why: an enqueuer resolved a run's options (call option, else its own task definition, else the
-- defaults) and wrote them into the row, so a run enqueued by the SQL API's enqueue() (e.g. from a
-- trigger) or by a Kairos instance without the task's definition took the defaults: an exclusive
-- task's runs took no lock and overlapped, and the task's timeout, retries, backoff, queue and
-- priority were lost (issue #14, part 1). Now every node publishes the tasks it defines into
-- `tasks` at start() (upsert; the last publisher wins) and every insert fills each option the
-- caller did not give from there, then from the defaults: explicit option > registry > default.
-- The rule has one owner, run_options(), used by runs_from_json (insert_runs: batches and the SQL
-- API) and by the single-run statements insertRun and insertRunHandoff (a primary-key look-up).
-- enqueue()'s priority, queue and retries now default to NULL (the registry, then 5, 'default', 3)
-- and it no longer writes the backoff itself.
-- Safety: a new table (only the schema owner, the agent, writes it; job_scheduler and job_monitor
-- read it, since inserts run as the caller) and a new function; runs_from_json(jsonb, jsonb,
-- timestamptz), enqueue() and run_is_own() (a tenant's run may carry its task's published lock)
-- are replaced with the same signatures and grants (enqueue's argument defaults change). With an
-- empty registry every insert gets what it got before. No data changes. Forward-only, in one
-- transaction.

CREATE TABLE {{schema}}.tasks (
  task text PRIMARY KEY,
  queue text,
  priority integer,
  max_retries integer,
  backoff_ms integer,
  backoff_max_ms integer,
  timeout_ms integer,
  lock_key text,
  published_by text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {{schema}}.tasks IS
  'The run options of each task as the nodes defining it published them at start() (NULL: the task does not say; the default applies). Only the agent writes it.';

-- Explicit option > registry > default. Plain SQL, STABLE, no SET: inlined into the caller's
-- statement, so the look-up costs a primary-key probe and runs with the caller's rights.
CREATE FUNCTION {{schema}}.run_options(p_task text, p_queue text, p_priority integer, p_max_retries integer,
  p_backoff_ms integer, p_backoff_max_ms integer, p_timeout_ms integer, p_lock_key text)
RETURNS TABLE (queue text, priority integer, max_retries integer, backoff_ms integer, backoff_max_ms integer,
  timeout_ms integer, lock_key text)
LANGUAGE sql STABLE AS $$
  SELECT coalesce(p_queue, t.queue, 'default'), coalesce(p_priority, t.priority, 5), coalesce(p_max_retries, t.max_retries, 3),
         coalesce(p_backoff_ms, t.backoff_ms, 1000), coalesce(p_backoff_max_ms, t.backoff_max_ms, 3600000),
         coalesce(p_timeout_ms, t.timeout_ms), coalesce(p_lock_key, t.lock_key)
    FROM (SELECT) one LEFT JOIN {{schema}}.tasks t ON t.task = p_task
$$;

CREATE OR REPLACE FUNCTION {{schema}}.runs_from_json(items jsonb, defaults jsonb, at timestamptz)
RETURNS TABLE (ord bigint, task text, queue text, priority int, payload jsonb, key text, run_at timestamptz,
  expires_at timestamptz, max_retries int, backoff_ms int, backoff_max_ms int, timeout_ms int, lock_key text)
LANGUAGE sql STABLE AS $$
  SELECT x.ord, coalesce(x.task, d.task), o.queue, o.priority,
         coalesce(x.payload, 'null'::jsonb), x.key,
         coalesce(x.run_at, d.run_at, at, now()) + coalesce(x.delay_ms, d.delay_ms, 0) * interval '1 millisecond',
         CASE WHEN coalesce(x.grace_ms, d.grace_ms) IS NULL THEN NULL
              ELSE coalesce(x.run_at, d.run_at, at, now())
                   + (coalesce(x.delay_ms, d.delay_ms, 0) + coalesce(x.grace_ms, d.grace_ms)) * interval '1 millisecond' END,
         o.max_retries, o.backoff_ms, o.backoff_max_ms, o.timeout_ms, o.lock_key
    FROM jsonb_to_record(coalesce(defaults, '{}')) AS d(task text, queue text, priority int, run_at timestamptz, delay_ms bigint,
         grace_ms bigint, max_retries int, backoff_ms int, backoff_max_ms int, timeout_ms int, lock_key text),
         ROWS FROM (jsonb_to_recordset(items) AS (task text, queue text, priority int, payload jsonb, key text,
           run_at timestamptz, delay_ms bigint, grace_ms bigint, max_retries int, backoff_ms int, backoff_max_ms int,
           timeout_ms int, lock_key text))
         WITH ORDINALITY AS x(task, queue, priority, payload, key, run_at, delay_ms, grace_ms, max_retries, backoff_ms,
           backoff_max_ms, timeout_ms, lock_key, ord)
         CROSS JOIN LATERAL {{schema}}.run_options(coalesce(x.task, d.task), coalesce(x.queue, d.queue), coalesce(x.priority, d.priority),
           coalesce(x.max_retries, d.max_retries), coalesce(x.backoff_ms, d.backoff_ms), coalesce(x.backoff_max_ms, d.backoff_max_ms),
           coalesce(x.timeout_ms, d.timeout_ms), coalesce(x.lock_key, d.lock_key)) o
$$;

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
             'task', task, 'queue', queue, 'priority', priority, 'payload', coalesce(payload, '{}'),
             'key', job_key, 'run_at', enqueue.run_at, 'delay_ms', round(extract(epoch FROM delay) * 1000),
             'max_retries', retries))),
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

-- A tenant's task run (row-level security, migration 0014) may carry no lock key, its task's own
-- name, or now the lock its task's published definition names: the registry is the agent's word,
-- so an exclusive task's runs enqueued by a tenant take the task's lock, and a tenant still cannot
-- name another lock.
CREATE OR REPLACE FUNCTION {{schema}}.run_is_own(p_job integer, p_type text, p_task text, p_lock text, p_owner name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN p_job IS NULL THEN p_type = 'task' AND (p_lock IS NULL OR p_lock = p_task
                OR p_lock = (SELECT t.lock_key FROM {{schema}}.tasks t WHERE t.task = p_task))
         ELSE EXISTS (SELECT 1 FROM {{schema}}.jobs j
                       WHERE j.job_id = p_job AND j.owner = p_owner AND j.job_type = p_type
                         AND j.lock_key IS NOT DISTINCT FROM p_lock) END
$$;

DO $$
DECLARE
  s text := {{lit_schema}};
  who text := {{lit_role_scheduler}};
  monitor text := {{lit_role_monitor}};
BEGIN
  EXECUTE format('REVOKE ALL ON TABLE %I.tasks FROM PUBLIC', s);
  EXECUTE format('REVOKE ALL ON FUNCTION %I.run_options(text, text, integer, integer, integer, integer, integer, text) FROM PUBLIC', s);
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = monitor) THEN
    EXECUTE format('GRANT SELECT ON TABLE %I.tasks TO %I', s, monitor);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who) THEN RETURN; END IF;
  -- Tenants read the registry (their inserts look it up with their own rights) and never write it.
  EXECUTE format('GRANT SELECT ON TABLE %I.tasks TO %I', s, who);
  EXECUTE format('GRANT EXECUTE ON FUNCTION %I.run_options(text, text, integer, integer, integer, integer, integer, text) TO %I', s, who);
END $$;
