-- Named queries of the hand-off to idle nodes (migration 0013; src/engine/handoff.ts).

-- name: armHandoff
-- Node @node_id is idle and takes one run of queues @queues and tasks @tasks. The row is re-armed only if the
-- run it last took is one the node has seen (@seen_run_ids): otherwise that run's NOTIFY is still on its way
-- (or was lost) and the row must keep saying which run it was. Returns a row when armed.
-- @token: the arming's single-use token (migration 0017), echoed by the hand-off's NOTIFY.
-- @listener_lock: the advisory lock key the node's LISTEN session holds (migration 0021): the row
-- is handed a run only while that session lives.
INSERT INTO {{schema}}.handoffs AS h (node_id, queues, tasks, lease_ms, stale_ms, token, listener_lock)
VALUES (@node_id, @queues::text[], @tasks::text[], @lease_ms, @stale_ms, @token::uuid, @listener_lock::bigint)
ON CONFLICT (node_id) DO UPDATE
   SET run_id = NULL, queues = excluded.queues, tasks = excluded.tasks, lease_ms = excluded.lease_ms,
       stale_ms = excluded.stale_ms, armed_at = now(), token = excluded.token, listener_lock = excluded.listener_lock
 WHERE h.run_id IS NULL OR h.run_id = ANY(@seen_run_ids::bigint[])
RETURNING h.node_id;

-- name: disarmHandoff
-- Node @node_id stops: no more hand-offs. Returns the run last handed over, if any.
DELETE FROM {{schema}}.handoffs WHERE node_id = @node_id RETURNING run_id;

-- name: handoffState
-- After a reconnect: is node @node_id still armed, or which run was handed to it?
SELECT run_id FROM {{schema}}.handoffs WHERE node_id = @node_id;

-- name: handedRun
-- Run @run_id as handed to node @node_id, when its NOTIFY was lost or too large to carry it: the same
-- columns as claim_runs. Only a first attempt still running on this node qualifies; a run that
-- was rescued meanwhile has another attempt number and is left alone.
-- Not null: started_at, due_in_ms
SELECT r.run_id, r.job_id, r.task, r.job_type, r.queue, r.priority, r.payload, r.key, r.scheduled_at, r.run_at,
       r.attempt, r.max_retries, r.backoff_ms, r.backoff_max_ms, r.timeout_ms, r.lock_key, r.started_at,
       r.rescues, r.cancel_requested, NULL::text AS job_name, 0::double precision AS due_in_ms
  FROM {{schema}}.runs r
 WHERE r.run_id = @run_id AND r.node_id = @node_id AND r.status = 'running' AND r.attempt = 1 AND r.rescues = 0;
