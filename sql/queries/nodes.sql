-- Named queries on the node registry and maintenance.

-- name: registerNode
-- Register this node (or mark it alive again); db_time: the database clock, for the offset.
-- Not null: db_time
INSERT INTO {{schema}}.nodes (node_id, name, host, pid, tags, queues, concurrency, version)
VALUES (@node_id, @name, @host, @pid, @tags, @queues, @concurrency, @version)
ON CONFLICT (node_id) DO UPDATE SET last_heartbeat = now(), stopped_at = NULL
RETURNING started_at, clock_timestamp() AS db_time;

-- name: heartbeat
-- Prove this node is alive and extend, by @lease_ms, the lease of the runs it still works on
-- (@run_ids); returns its runs that were asked to cancel, and why (the fallback for a lost NOTIFY).
-- One row per run leased (one of NULLs when none was); node_found, on every row, is 0 when the
-- node's row is gone.
-- Not null: node_found
WITH node AS (
  UPDATE {{schema}}.nodes SET last_heartbeat = now(), stopped_at = NULL WHERE node_id = @node_id RETURNING node_id
), leases AS (
  UPDATE {{schema}}.runs SET lease_until = coalesce(@now::timestamptz, now()) + @lease_ms::bigint * interval '1 millisecond'
   WHERE node_id = @node_id AND status = 'running' AND run_id = ANY(@run_ids::bigint[])
  RETURNING run_id, cancel_requested, cancel_reason
)
SELECT l.run_id, l.cancel_requested, l.cancel_reason, (SELECT count(*) FROM node) AS node_found FROM leases l
UNION ALL
SELECT NULL, NULL, NULL, (SELECT count(*) FROM node) WHERE NOT EXISTS (SELECT 1 FROM leases);

-- name: cancelsRequested
-- Which of the runs node @node_id holds (@run_ids) are flagged for cancellation, and why: a
-- cancel NOTIFY is only a hint to ask (migration 0017), the flag is what the node acts on.
SELECT run_id, cancel_reason FROM {{schema}}.runs
 WHERE run_id = ANY(@run_ids::bigint[]) AND node_id = @node_id AND status = 'running' AND cancel_requested;

-- name: notifySecret
-- The installation's key for status events (migration 0017; the schema owner alone reads it).
SELECT secret FROM {{schema}}.notify_secret;

-- name: deregisterNode
UPDATE {{schema}}.nodes SET stopped_at = now(), last_heartbeat = now() WHERE node_id = @node_id;

-- name: listNodes
-- Not null: running
SELECT n.*, (SELECT count(*) FROM {{schema}}.runs r WHERE r.node_id = n.node_id AND r.status = 'running')::int AS running,
       clock_timestamp() - n.last_heartbeat AS heartbeat_age
  FROM {{schema}}.nodes n ORDER BY n.started_at DESC;

-- name: pruneLogs
-- Delete up to @batch attempt records of the @statuses that finished before @finished_before
-- from the default partitions (one batch; the pruner loops while batches come back full, so one
-- long DELETE never holds locks for long). Day partitions are dropped whole instead: see
-- historyDropExpired.
-- Not null: deleted
SELECT {{schema}}.history_prune_default('job_logs', @statuses::text[], @finished_before, @batch) AS deleted;

-- name: pruneStepLogs
-- The same for step records finished before @finished_before (at most @batch).
-- Not null: deleted
SELECT {{schema}}.history_prune_default('step_logs', NULL, @finished_before, @batch) AS deleted;

-- name: historyPrepare
-- Create the missing day partitions of the history for @days UTC days from day @from_day.
SELECT {{schema}}.history_prepare(@from_day::date, @days) AS created;

-- name: historyDropExpired
-- Drop the day partitions wholly before their cutoff: @completed_before, @failed_before,
-- @cancelled_before, and @steps_before for step records.
-- Not null: partition, row_count
SELECT * FROM {{schema}}.history_drop_expired(@completed_before, @failed_before, @cancelled_before, @steps_before);

-- name: pruneOccurrences
-- Forget up to @batch occurrence records created before @created_before.
WITH doomed AS (
  SELECT job_id, scheduled_at FROM {{schema}}.occurrences WHERE created_at < @created_before LIMIT @batch
)
DELETE FROM {{schema}}.occurrences o USING doomed d WHERE o.job_id = d.job_id AND o.scheduled_at = d.scheduled_at;

-- name: pruneNodes
DELETE FROM {{schema}}.nodes WHERE last_heartbeat < @heartbeat_before;

-- name: tryTransactionLock
-- A transaction-scoped advisory lock on @lock_key (hashed), if free, in a transaction the caller
-- keeps open (idle) for as long as it holds the lock (store/locks.ts): no session state, so it
-- works through a transaction-mode pooler. The transaction is exempt from the server's
-- idle_in_transaction_session_timeout (managed PostgreSQL often sets one), which would end it and
-- the lock with it; an idle READ COMMITTED transaction holds no snapshot back.
-- Not null: locked
SELECT pg_try_advisory_xact_lock(hashtext(@lock_key)) AS locked,
       set_config('idle_in_transaction_session_timeout', '0', true) IS NOT NULL AS exempt;

-- name: backendPid
-- The server process of this connection: a pooler (PgBouncer, Supavisor, RDS Proxy) answers the
-- connection with a process id of its own, so the two differ behind one (store/pooler.ts).
-- Not null: pid
SELECT pg_backend_pid() AS pid;

-- name: dbNow
-- Not null: db_time
SELECT clock_timestamp() AS db_time;

-- name: publish
-- Status changes for the other nodes (clusterEvents): @payload on @channel.
SELECT pg_notify(@channel, @payload);

-- name: cancelBackend
-- Ask the server to cancel the statement running on backend @pid (a SQL job's, on its timeout or
-- cancellation); the SQL-job runner sends it on the job's own pool.
SELECT pg_cancel_backend(@pid) AS cancelled;
