-- Named queries on the task registry (migration 0032): the run options each task's definition
-- gives, published by the nodes that define it, read by every insert of a run (run_options).

-- name: publishTasks
-- Publish the definitions of node @node_id (a JSON array of {task, queue, priority, max_retries,
-- backoff_ms, backoff_max_ms, timeout_ms, lock_key}; null: the definition does not say). The last
-- publisher wins. Returns the tasks whose published definition was different and by whom, so the
-- node can log that it replaced another node's definition.
WITH input AS (
  SELECT * FROM jsonb_to_recordset(@tasks::jsonb) AS x(task text, queue text, priority int, max_retries int,
    backoff_ms int, backoff_max_ms int, timeout_ms int, lock_key text)
), before AS (
  SELECT t.* FROM {{schema}}.tasks t JOIN input i ON i.task = t.task
   WHERE (t.queue, t.priority, t.max_retries, t.backoff_ms, t.backoff_max_ms, t.timeout_ms, t.lock_key)
         IS DISTINCT FROM (i.queue, i.priority, i.max_retries, i.backoff_ms, i.backoff_max_ms, i.timeout_ms, i.lock_key)
   FOR UPDATE OF t
), up AS (
  INSERT INTO {{schema}}.tasks AS t (task, queue, priority, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key, published_by, updated_at)
  SELECT i.task, i.queue, i.priority, i.max_retries, i.backoff_ms, i.backoff_max_ms, i.timeout_ms, i.lock_key, @node_id, now() FROM input i
  ON CONFLICT (task) DO UPDATE SET queue = excluded.queue, priority = excluded.priority, max_retries = excluded.max_retries,
     backoff_ms = excluded.backoff_ms, backoff_max_ms = excluded.backoff_max_ms, timeout_ms = excluded.timeout_ms,
     lock_key = excluded.lock_key, published_by = excluded.published_by, updated_at = excluded.updated_at
)
SELECT b.task, b.published_by AS previous_node FROM before b ORDER BY b.task;
