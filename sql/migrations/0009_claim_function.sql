-- Kairos schema, version 9: the claim as a function planned with sorting disabled.
--
-- Why: the claim must walk runs_claim in its ORDER BY and stop after LIMIT rows. When the table's
-- statistics are stale (a backlog enqueued faster than autovacuum analyses it: the common case at
-- start-up), the planner estimated a handful of due rows and chose a bitmap scan of every due row
-- plus a sort: each claim then read the whole backlog, 50 ms a claim at 50 000 runs and a drain
-- that is quadratic in the backlog (measured: 2 900 jobs/s instead of 20 000). With enable_sort off
-- the ordered index scan is the only plan without a sort, whatever the statistics say. The SET
-- applies to this function's statements only; PL/pgSQL keeps the plan for the session.
--
-- It also claims a few milliseconds ahead: a run due at 12:00:00.000 claimed by a timer at
-- 12:00:00.001 had the claim's round trip and commit (2–6 ms) after its due time. The producer's
-- timer fires `p_ahead_ms` (20 ms) early, claims what is due by then, and holds such a run for
-- `due_in_ms` (by the database's clock, so no clock offset enters) before starting it
-- (src/engine/producer.ts). The recorded start (started_at) is the due time, never earlier; the
-- lease counts from the claim.
CREATE FUNCTION {{schema}}.claim_runs(p_node text, p_queues text[], p_limit integer, p_tasks text[],
                                      p_now timestamptz, p_lease_ms bigint, p_node_name text, p_node_tags text[],
                                      p_ahead_ms bigint)
RETURNS TABLE (run_id bigint, job_id integer, task text, job_type text, queue text, priority integer, payload jsonb,
               key text, scheduled_at timestamptz, run_at timestamptz, attempt integer, max_retries integer,
               backoff_ms integer, backoff_max_ms integer, timeout_ms integer, lock_key text,
               started_at timestamptz, rescues integer, cancel_requested boolean, job_name text,
               due_in_ms double precision)
LANGUAGE plpgsql
SET enable_sort = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH candidates AS (
    SELECT r.run_id
      FROM {{schema}}.runs r
     WHERE r.status = 'pending'
       AND r.queue = ANY(p_queues)
       AND r.task = ANY(p_tasks)
       AND r.run_at <= coalesce(p_now, now()) + p_ahead_ms * interval '1 millisecond'
       AND (r.expires_at IS NULL OR r.expires_at >= coalesce(p_now, now()))
       AND (r.node_name IS NULL OR r.node_name = p_node_name)
       AND r.node_tags <@ p_node_tags
       AND (NOT r.serial OR NOT EXISTS (
             SELECT 1 FROM {{schema}}.runs o WHERE o.job_id = r.job_id AND o.status = 'running'))
     ORDER BY r.priority, r.run_at, r.run_id
     LIMIT p_limit
     FOR UPDATE SKIP LOCKED
  )
  UPDATE {{schema}}.runs r
     SET status = 'running', attempt = r.attempt + 1, node_id = p_node,
         started_at = greatest(coalesce(p_now, now()), r.run_at),
         lease_until = coalesce(p_now, now()) + p_lease_ms * interval '1 millisecond'
    FROM candidates c
   WHERE r.run_id = c.run_id
  RETURNING r.run_id, r.job_id, r.task, r.job_type, r.queue, r.priority, r.payload, r.key, r.scheduled_at, r.run_at,
            r.attempt, r.max_retries, r.backoff_ms, r.backoff_max_ms, r.timeout_ms, r.lock_key, r.started_at,
            r.rescues, r.cancel_requested,
            (SELECT j.job_name FROM {{schema}}.jobs j WHERE j.job_id = r.job_id),
            greatest(0, extract(epoch FROM r.run_at - coalesce(p_now, now())) * 1000)::double precision;
END
$$;
-- Internal: the engine calls it as the installing role; nobody else needs it.
REVOKE ALL ON FUNCTION {{schema}}.claim_runs(text, text[], integer, text[], timestamptz, bigint, text, text[], bigint) FROM PUBLIC;
