-- Named queries on the node registry and maintenance.

-- name: registerNode
INSERT INTO {{schema}}.nodes (node_id, name, host, pid, tags, queues, concurrency, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (node_id) DO UPDATE SET last_heartbeat = now(), stopped_at = NULL
RETURNING started_at, clock_timestamp() AS db_time;

-- name: heartbeat
-- Prove this node is alive and extend the lease of the runs it still works on ($4); returns its
-- runs that were asked to cancel, and why (the fallback for a lost NOTIFY).
WITH node AS (
  UPDATE {{schema}}.nodes SET last_heartbeat = now(), stopped_at = NULL WHERE node_id = $1 RETURNING node_id
), leases AS (
  UPDATE {{schema}}.runs SET lease_until = coalesce($3::timestamptz, now()) + $2::bigint * interval '1 millisecond'
   WHERE node_id = $1 AND status = 'running' AND run_id = ANY($4::bigint[])
  RETURNING run_id, cancel_requested, cancel_reason
)
SELECT l.run_id, l.cancel_requested, l.cancel_reason, (SELECT count(*) FROM node) AS node_found FROM leases l
UNION ALL
SELECT NULL, NULL, NULL, (SELECT count(*) FROM node) WHERE NOT EXISTS (SELECT 1 FROM leases);

-- name: cancelsRequested
-- Which of the runs node $1 holds ($2) are flagged for cancellation, and why: a cancel NOTIFY
-- is only a hint to ask (migration 0017), the flag is what the node acts on.
SELECT run_id, cancel_reason FROM {{schema}}.runs
 WHERE run_id = ANY($2::bigint[]) AND node_id = $1 AND status = 'running' AND cancel_requested;

-- name: notifySecret
-- The installation's key for status events (migration 0017; the schema owner alone reads it).
SELECT secret FROM {{schema}}.notify_secret;

-- name: deregisterNode
UPDATE {{schema}}.nodes SET stopped_at = now(), last_heartbeat = now() WHERE node_id = $1;

-- name: listNodes
SELECT n.*, (SELECT count(*) FROM {{schema}}.runs r WHERE r.node_id = n.node_id AND r.status = 'running')::int AS running,
       clock_timestamp() - n.last_heartbeat AS heartbeat_age
  FROM {{schema}}.nodes n ORDER BY n.started_at DESC;

-- name: pruneLogs
-- Delete up to $3 attempt records of status $1 that finished before $2 from the default
-- partitions (one batch; the pruner loops while batches come back full, so one long DELETE never
-- holds locks for long). Day partitions are dropped whole instead: see historyDropExpired.
SELECT {{schema}}.history_prune_default('job_logs', $1::text[], $2, $3) AS deleted;

-- name: pruneStepLogs
-- The same for step records finished before $1 (at most $2).
SELECT {{schema}}.history_prune_default('step_logs', NULL, $1, $2) AS deleted;

-- name: historyPrepare
-- Create the missing day partitions of the history for $2 UTC days from day $1.
SELECT {{schema}}.history_prepare($1::date, $2) AS created;

-- name: historyDropExpired
-- Drop the day partitions wholly before their cutoff: completed $1, failed $2, cancelled $3, steps $4.
SELECT * FROM {{schema}}.history_drop_expired($1, $2, $3, $4);

-- name: pruneOccurrences
WITH doomed AS (
  SELECT job_id, scheduled_at FROM {{schema}}.occurrences WHERE created_at < $1 LIMIT $2
)
DELETE FROM {{schema}}.occurrences o USING doomed d WHERE o.job_id = d.job_id AND o.scheduled_at = d.scheduled_at;

-- name: pruneNodes
DELETE FROM {{schema}}.nodes WHERE last_heartbeat < $1;

-- name: tryExclusiveLock
SELECT pg_try_advisory_lock(hashtext($1)) AS locked;

-- name: exclusiveUnlock
SELECT pg_advisory_unlock(hashtext($1)) AS unlocked;

-- name: dbNow
SELECT clock_timestamp() AS db_time;

-- name: publish
-- Status changes for the other nodes (clusterEvents).
SELECT pg_notify($1, $2);
