-- Named queries on the node registry and maintenance.

-- name: registerNode
INSERT INTO {{schema}}.nodes (node_id, name, host, pid, tags, queues, concurrency, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (node_id) DO UPDATE SET last_heartbeat = now(), stopped_at = NULL
RETURNING started_at, clock_timestamp() AS db_time;

-- name: heartbeat
-- Prove this node is alive and extend the lease of every run it holds; returns its runs that were
-- asked to cancel (the fallback for a lost NOTIFY).
WITH node AS (
  UPDATE {{schema}}.nodes SET last_heartbeat = now(), stopped_at = NULL WHERE node_id = $1 RETURNING node_id
), leases AS (
  UPDATE {{schema}}.runs SET lease_until = coalesce($3::timestamptz, now()) + $2::bigint * interval '1 millisecond'
   WHERE node_id = $1 AND status = 'running'
  RETURNING run_id, cancel_requested
)
SELECT l.run_id, l.cancel_requested, (SELECT count(*) FROM node) AS node_found FROM leases l
UNION ALL
SELECT NULL, NULL, (SELECT count(*) FROM node) WHERE NOT EXISTS (SELECT 1 FROM leases);

-- name: deregisterNode
UPDATE {{schema}}.nodes SET stopped_at = now(), last_heartbeat = now() WHERE node_id = $1;

-- name: listNodes
SELECT n.*, (SELECT count(*) FROM {{schema}}.runs r WHERE r.node_id = n.node_id AND r.status = 'running')::int AS running,
       clock_timestamp() - n.last_heartbeat AS heartbeat_age
  FROM {{schema}}.nodes n ORDER BY n.started_at DESC;

-- name: pruneLogs
-- Delete up to $3 attempt records of status $1 that finished before $2 (one batch; the pruner
-- loops while batches come back full, so one long DELETE never holds locks for long).
WITH doomed AS (
  SELECT log_id FROM {{schema}}.job_logs WHERE status = ANY($1::text[]) AND finished_at < $2 LIMIT $3
)
DELETE FROM {{schema}}.job_logs l USING doomed d WHERE l.log_id = d.log_id;

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
