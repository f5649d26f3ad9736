-- Kairos schema, version 19: one owner for enqueue's conflict policies, insert_runs.
--
-- Why: the rules of enqueue with a key (issue #13, "one owner per rule") were written twice. The
-- TypeScript API chose one of three named statements over runs_from_json (0005, 0011, 0012); the
-- SQL API's enqueue() (0004, 0008, 0015) re-implemented them by hand, differently: its 'replace'
-- changed only payload, run_at, priority, queue and max_retries (a run enqueued by TypeScript with
-- a timeout, a backoff or a lock key kept them under a replace from SQL, and kept its expiry),
-- and its due time was computed again, as a calendar interval. insert_runs below holds the three
-- policies over runs_from_json's one rule for the due time and the expiry; the TypeScript batch
-- statement (insertRunBatch in sql/queries/runs.sql) and enqueue() both call it. The single-run
-- statements insertRun and insertRunHandoff (the 'raise' fast path, without JSON) keep their own
-- copy of the due-time rule, pinned equal to runs_from_json's by test/engine/enqueue.test.ts.
--
-- insert_runs(items, defaults, at, conflict): items and defaults as runs_from_json takes them; one
-- row per item, in the items' order (no position column: numbering the rows of the 'raise' insert
-- cost a materialisation, 7 % of the statement for 1 000 runs):
--   'raise'   every item is inserted, or the statement fails with unique_violation (23505)
--             naming the key; a batch is all or nothing.
--   'ignore'  an item whose (task, key) is taken keeps the existing run: inserted = false and the
--             existing run's id and due time. run_id is NULL when the caller cannot see that run
--             (another role's, under row-level security) or it left the queue meanwhile.
--   'replace' an item whose (task, key) is taken by a pending run replaces that run's queue,
--             priority, payload, due time, expiry, retries, backoff, timeout and lock key (every
--             field but task and key); a running run is not replaced, nor one the caller cannot
--             see: run_id NULL and inserted = false. A key twice in one batch raises 21000.
--
-- What changes for SQL callers of enqueue() (same signature, checks, messages and SQLSTATEs):
--   * conflict => 'replace' replaces all of the pending run's options, as TypeScript's does: the
--     payload, run_at, priority, queue and retries given, and the options enqueue() has no
--     argument for take enqueue()'s values: no timeout, no lock key, no expiry, the default backoff
--     (1 s doubling up to 1 h). Before, a run enqueued by TypeScript kept its timeout, backoff,
--     lock key and expires_at.
--   * delay is an exact duration, counted in whole milliseconds as TypeScript's delay is (a day is
--     24 hours, a month 30 days); before, it was added as a calendar interval in the session's
--     time zone. run_at + delay is otherwise the same due time.
--   * conflict => 'ignore' no longer locks the existing run (FOR UPDATE) until the caller commits.
--   * A key held by a run the caller cannot see (another role's) still raises unique_violation
--     (23505) with PostgreSQL's message for runs_key, under each policy, as before; replacing one's
--     own running run still raises 23505 'run N with key K is already running; replace only
--     applies to pending runs'.
--
-- Safety: enqueue() keeps its signature, grants, SECURITY INVOKER and pinned search_path (CREATE
-- OR REPLACE); nodes of version 18 keep working (their statements call runs_from_json, which is
-- unchanged). insert_runs is SECURITY INVOKER with a pinned search_path, so a tenant's call is
-- checked by the runs policies of 0014 and 0015 as its plain INSERT is. A tenant's 'replace'
-- writes the columns it may already INSERT: UPDATE on expires_at, backoff_ms, backoff_max_ms,
-- timeout_ms and lock_key is granted below; member_rows' WITH CHECK (run_is_own) still refuses a
-- lock key other than the task's own on an updated row, as on an inserted one. A tenant's replace
-- skips another role's run before row-level security would refuse it (pg_has_role, the
-- policy's USING, only when row security applies to the caller: the table owner is not
-- slowed down), so that it gets 23505 like any key it cannot see.

CREATE OR REPLACE FUNCTION {{schema}}.insert_runs(items jsonb, defaults jsonb, at timestamptz, conflict text)
RETURNS TABLE (run_id bigint, key text, inserted boolean, run_at_ms numeric)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  -- Row security applies to the caller (a tenant): see the replace statement.
  guarded boolean;
BEGIN
  IF conflict = 'raise' THEN
    -- Rows are inserted in the items' order (ORDER BY ord), and RETURNING gives them in that order.
    RETURN QUERY
    INSERT INTO {{schema}}.runs AS r
      (task, queue, priority, payload, key, run_at, expires_at, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key)
    SELECT x.task, x.queue, x.priority, x.payload, x.key, x.run_at, x.expires_at, x.max_retries, x.backoff_ms,
           x.backoff_max_ms, x.timeout_ms, x.lock_key
      FROM {{schema}}.runs_from_json(insert_runs.items, insert_runs.defaults, insert_runs.at) x ORDER BY x.ord
    RETURNING r.run_id, r.key, true, floor(extract(epoch FROM r.run_at) * 1000);
  ELSIF conflict = 'ignore' THEN
    -- Keyed items are matched to what was inserted by (task, key) (the first of a key repeated in
    -- the batch is the one inserted); unkeyed ones never conflict, so all were inserted, in order:
    -- the n-th unkeyed item is the n-th unkeyed row by run id.
    RETURN QUERY
    WITH input AS (
      SELECT x.*, CASE WHEN x.key IS NULL THEN row_number() OVER (PARTITION BY x.key IS NULL ORDER BY x.ord) END AS nth,
             row_number() OVER (PARTITION BY x.task, x.key ORDER BY x.ord) = 1 AS first
        FROM {{schema}}.runs_from_json(insert_runs.items, insert_runs.defaults, insert_runs.at) x
    ), ins AS (
      INSERT INTO {{schema}}.runs AS r
        (task, queue, priority, payload, key, run_at, expires_at, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key)
      SELECT x.task, x.queue, x.priority, x.payload, x.key, x.run_at, x.expires_at, x.max_retries, x.backoff_ms,
             x.backoff_max_ms, x.timeout_ms, x.lock_key
        FROM input x ORDER BY x.ord
      ON CONFLICT (task, key) WHERE key IS NOT NULL DO NOTHING
      RETURNING r.run_id, r.task, r.key, r.run_at
    ), unkeyed AS (
      SELECT i.run_id, i.run_at, row_number() OVER (ORDER BY i.run_id) AS nth FROM ins i WHERE i.key IS NULL
    )
    SELECT coalesce(k.run_id, u.run_id, e.run_id), x.key, (k.run_id IS NOT NULL AND x.first) OR u.run_id IS NOT NULL,
           floor(extract(epoch FROM coalesce(k.run_at, u.run_at, e.run_at)) * 1000)
      FROM input x
      LEFT JOIN ins k ON x.key IS NOT NULL AND k.task = x.task AND k.key = x.key
      LEFT JOIN unkeyed u ON u.nth = x.nth
      LEFT JOIN {{schema}}.runs e ON x.key IS NOT NULL AND k.run_id IS NULL AND e.task = x.task AND e.key = x.key
     ORDER BY x.ord;
  ELSIF conflict = 'replace' THEN
    -- Under row-level security a conflict with another role's pending run would raise 42501
    -- (ON CONFLICT DO UPDATE checks the policy's USING on the existing row): skip it instead, as
    -- a running run is skipped, so that the caller refuses both alike.
    guarded := row_security_active(format('%I.runs', {{lit_schema}}));
    RETURN QUERY
    WITH input AS (
      SELECT x.*, CASE WHEN x.key IS NULL THEN row_number() OVER (PARTITION BY x.key IS NULL ORDER BY x.ord) END AS nth
        FROM {{schema}}.runs_from_json(insert_runs.items, insert_runs.defaults, insert_runs.at) x
    ), up AS (
      INSERT INTO {{schema}}.runs AS r
        (task, queue, priority, payload, key, run_at, expires_at, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key)
      SELECT x.task, x.queue, x.priority, x.payload, x.key, x.run_at, x.expires_at, x.max_retries, x.backoff_ms,
             x.backoff_max_ms, x.timeout_ms, x.lock_key
        FROM input x ORDER BY x.ord
      ON CONFLICT (task, key) WHERE key IS NOT NULL DO UPDATE
         SET queue = excluded.queue, priority = excluded.priority, payload = excluded.payload, run_at = excluded.run_at,
             expires_at = excluded.expires_at, max_retries = excluded.max_retries, backoff_ms = excluded.backoff_ms,
             backoff_max_ms = excluded.backoff_max_ms, timeout_ms = excluded.timeout_ms, lock_key = excluded.lock_key
       WHERE r.status = 'pending' AND (NOT guarded OR pg_has_role(current_user, r.owner, 'MEMBER'))
      RETURNING r.run_id, r.task, r.key, r.run_at
    ), unkeyed AS (
      SELECT i.run_id, i.run_at, row_number() OVER (ORDER BY i.run_id) AS nth FROM up i WHERE i.key IS NULL
    )
    SELECT coalesce(k.run_id, u.run_id), x.key, coalesce(k.run_id, u.run_id) IS NOT NULL,
           floor(extract(epoch FROM coalesce(k.run_at, u.run_at)) * 1000)
      FROM input x
      LEFT JOIN up k ON x.key IS NOT NULL AND k.task = x.task AND k.key = x.key
      LEFT JOIN unkeyed u ON u.nth = x.nth
     ORDER BY x.ord;
  ELSE
    PERFORM {{schema}}.api_fail(format('conflict must be raise, ignore or replace, got %L', conflict));
  END IF;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.enqueue(task text, payload jsonb DEFAULT '{}', run_at timestamptz DEFAULT NULL,
                                  priority integer DEFAULT 5, queue text DEFAULT 'default', job_key text DEFAULT NULL,
                                  conflict text DEFAULT 'raise', retries integer DEFAULT 3, delay interval DEFAULT NULL) RETURNS bigint
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
  PERFORM {{schema}}.api_check_name(queue, 'queue');
  IF conflict NOT IN ('raise', 'ignore', 'replace') THEN PERFORM {{schema}}.api_fail(format('conflict must be raise, ignore or replace, got %L', conflict)); END IF;
  IF retries IS NULL OR retries < 0 THEN PERFORM {{schema}}.api_fail(format('retries must be 0 or more, got %s', retries)); END IF;
  IF job_key IS NOT NULL AND (job_key = '' OR length(job_key) > 500) THEN PERFORM {{schema}}.api_fail('job_key must be 1-500 characters'); END IF;
  -- A batch of one. The options enqueue() has no argument for take the TypeScript API's defaults
  -- (those of the runs table): backoff 1 s doubling up to 1 h, no timeout, no lock key, no expiry.
  SELECT r.run_id INTO id
    FROM {{schema}}.insert_runs(
           jsonb_build_array(jsonb_build_object(
             'task', task, 'queue', queue, 'priority', coalesce(priority, 5), 'payload', coalesce(payload, '{}'),
             'key', job_key, 'run_at', enqueue.run_at, 'delay_ms', round(extract(epoch FROM delay) * 1000),
             'max_retries', retries, 'backoff_ms', 1000, 'backoff_max_ms', 3600000)),
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

-- Like the statements that call it (the engine's) and enqueue(): nothing to PUBLIC, EXECUTE to
-- the scheduler role, whose members' writes are checked by the runs policies. runs_from_json is
-- inlined into insert_runs' statements only for a caller who may execute it.
DO $$
DECLARE
  s text := {{lit_schema}};
  who text := {{lit_role_scheduler}};
BEGIN
  EXECUTE format('REVOKE ALL ON FUNCTION %I.insert_runs(jsonb, jsonb, timestamptz, text) FROM PUBLIC', s);
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who) THEN RETURN; END IF;
  EXECUTE format('GRANT EXECUTE ON FUNCTION %I.insert_runs(jsonb, jsonb, timestamptz, text), %I.runs_from_json(jsonb, jsonb, timestamptz) TO %I', s, s, who);
  -- enqueue(conflict => 'replace') now writes every option of a pending run (see above).
  EXECUTE format('GRANT UPDATE (expires_at, backoff_ms, backoff_max_ms, timeout_ms, lock_key) ON %I.runs TO %I', s, who);
END $$;
