-- Kairos schema, version 5: one definition of how an enqueued run's JSON becomes a row, shared by
-- the insert statements of every conflict policy (raise, ignore, replace). A SQL function of one
-- SELECT is inlined by the planner (so no SET search_path here: that would stop the inlining;
-- it calls only pg_catalog built-ins and is SECURITY INVOKER), and the batch insert costs the same.
-- jsonb_to_recordset reads a JSON null payload as SQL NULL: it is kept as the JSON value null.
CREATE FUNCTION {{schema}}.runs_from_json(items jsonb, at timestamptz)
RETURNS TABLE (ord bigint, task text, queue text, priority integer, payload jsonb, key text, run_at timestamptz,
               expires_at timestamptz, max_retries integer, backoff_ms integer, backoff_max_ms integer,
               timeout_ms integer, lock_key text)
LANGUAGE sql STABLE AS $$
  SELECT row_number() OVER (), x.task, x.queue, x.priority, coalesce(x.payload, 'null'::jsonb), x.key,
         coalesce(x.run_at, at, now()) + coalesce(x.delay_ms, 0) * interval '1 millisecond',
         CASE WHEN x.grace_ms IS NULL THEN NULL
              ELSE coalesce(x.run_at, at, now()) + (coalesce(x.delay_ms, 0) + x.grace_ms) * interval '1 millisecond' END,
         x.max_retries, x.backoff_ms, x.backoff_max_ms, x.timeout_ms, x.lock_key
    FROM jsonb_to_recordset(items) AS x(task text, queue text, priority int, payload jsonb, key text,
         run_at timestamptz, delay_ms bigint, grace_ms bigint, max_retries int, backoff_ms int, backoff_max_ms int,
         timeout_ms int, lock_key text)
$$;
