-- Kairos schema, version 11: enqueue batches send the values their runs share once.
-- A batch of 1 000 runs of one task with the same options repeated task, queue, priority, retries
-- and backoff in every element: about 100 of each element's bytes, all parsed by PostgreSQL.
-- Now `defaults` holds every field that is the same (and not null) in all the batch's runs, and
-- each element only what differs. Same rules as runs_from_json(jsonb, timestamptz) otherwise (0005).
CREATE FUNCTION {{schema}}.runs_from_json(items jsonb, defaults jsonb, at timestamptz)
RETURNS TABLE (ord bigint, task text, queue text, priority integer, payload jsonb, key text, run_at timestamptz,
               expires_at timestamptz, max_retries integer, backoff_ms integer, backoff_max_ms integer,
               timeout_ms integer, lock_key text)
LANGUAGE sql STABLE AS $$
  SELECT row_number() OVER (), coalesce(x.task, d.task), coalesce(x.queue, d.queue), coalesce(x.priority, d.priority),
         coalesce(x.payload, 'null'::jsonb), x.key,
         coalesce(x.run_at, d.run_at, at, now()) + coalesce(x.delay_ms, d.delay_ms, 0) * interval '1 millisecond',
         CASE WHEN coalesce(x.grace_ms, d.grace_ms) IS NULL THEN NULL
              ELSE coalesce(x.run_at, d.run_at, at, now())
                   + (coalesce(x.delay_ms, d.delay_ms, 0) + coalesce(x.grace_ms, d.grace_ms)) * interval '1 millisecond' END,
         coalesce(x.max_retries, d.max_retries), coalesce(x.backoff_ms, d.backoff_ms),
         coalesce(x.backoff_max_ms, d.backoff_max_ms), coalesce(x.timeout_ms, d.timeout_ms), coalesce(x.lock_key, d.lock_key)
    FROM jsonb_to_record(coalesce(defaults, '{}')) AS d(task text, queue text, priority int, run_at timestamptz, delay_ms bigint,
         grace_ms bigint, max_retries int, backoff_ms int, backoff_max_ms int, timeout_ms int, lock_key text),
         jsonb_to_recordset(items) AS x(task text, queue text, priority int, payload jsonb, key text,
         run_at timestamptz, delay_ms bigint, grace_ms bigint, max_retries int, backoff_ms int, backoff_max_ms int,
         timeout_ms int, lock_key text)
$$;
-- Internal: called by the engine's insert statements as the installing role.
REVOKE ALL ON FUNCTION {{schema}}.runs_from_json(jsonb, jsonb, timestamptz) FROM PUBLIC;
