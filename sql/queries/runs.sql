-- Named queries on the run queue. $now parameters are `coalesce($n, now())`: null means the
-- database clock; tests pass a fixed time.

-- name: insertRunBatch
-- Insert a batch of ad-hoc runs (a JSON array, see runs_from_json) with conflict policy @conflict
-- ('raise', 'ignore' or 'replace'), through insert_runs (migration 0019), which holds the
-- policies for this statement and for the SQL API's enqueue(). One row per item, in order: with
-- 'raise' a duplicate key fails the whole statement (unique violation), so a batch is all or
-- nothing; with 'ignore' a taken key returns the existing run (inserted false); with 'replace' a
-- pending run with the key takes the new payload, time and all options, and a running one is not
-- replaced (run_id null). Due times come back as epoch milliseconds: a number is parsed much
-- faster than a timestamp's text, a thousand times per batch.
-- Not null: inserted
SELECT * FROM {{schema}}.insert_runs(@items::jsonb, @defaults::jsonb, @now::timestamptz, @conflict);

-- name: insertRun
-- One ad-hoc run (conflict 'raise'), from plain parameters: for the single enqueue call, without
-- the batch statement's JSON parsing, numbering and sort. Same rules as runs_from_json (0005):
-- due at coalesce(run_at, @now, now()) + delay; expires grace after that; @payload is the payload's JSON.
-- (test/engine/enqueue.test.ts holds run_at and expires_at equal to insertRunBatch's.)
-- An option left null comes from the task registry, else the default (run_options, migration 0032).
-- Not null: run_at_ms
INSERT INTO {{schema}}.runs
  (task, queue, priority, payload, key, run_at, expires_at, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key)
SELECT @task, o.queue, o.priority, @payload::jsonb, @key, t.due,
       CASE WHEN @grace_ms::bigint IS NULL THEN NULL ELSE t.due + @grace_ms::bigint * interval '1 millisecond' END,
       o.max_retries, o.backoff_ms, o.backoff_max_ms, o.timeout_ms, o.lock_key
  FROM (SELECT coalesce(@run_at::timestamptz, @now::timestamptz, now()) + coalesce(@delay_ms::bigint, 0) * interval '1 millisecond' AS due) t,
       {{schema}}.run_options(@task, @queue, @priority, @max_retries, @backoff_ms, @backoff_max_ms, @timeout_ms, @lock_key) o
RETURNING run_id, key, floor(extract(epoch FROM run_at) * 1000) AS run_at_ms;

-- name: insertRunHandoff
-- insertRun for a run due now, handed to an idle node when one is armed for its queue and task
-- (migration 0013): the run goes in running on that node, attempt 1, leased as a claim leaves
-- it, and the NOTIFY carries the run (without its payload when the message would pass NOTIFY's
-- 8000 bytes: the node then reads it). SKIP LOCKED: two enqueues never wait for one idle node.
-- Without an armed node, the same as insertRun (@grace_ms: the misfire grace in ms).
-- The NOTIFY carries the row's token (`k`, migration 0017): the node trusts a hand-off message
-- only with the token of its current arming, and only once.
-- Only a row whose node's LISTEN session still lives is taken (migration 0021): that session
-- holds the advisory lock `listener_lock`, so the shared probe fails; it succeeds (and is let go
-- at commit) once the session ended, when the node died or its listener reconnected. The probe
-- is last: it runs only for rows that qualify otherwise.
-- Options left null come from the task registry, else the defaults (run_options, migration 0032),
-- before the queue picks the taker.
-- Not null: run_at_ms
WITH o AS (
  SELECT * FROM {{schema}}.run_options(@task, @queue, @priority, @max_retries, @backoff_ms, @backoff_max_ms, @timeout_ms, @lock_key)
), taker AS (
  SELECT h.node_id, h.lease_ms, h.token
    FROM o, {{schema}}.handoffs h JOIN {{schema}}.nodes n ON n.node_id = h.node_id
   WHERE h.run_id IS NULL AND o.queue = ANY(h.queues) AND @task = ANY(h.tasks)
     AND n.stopped_at IS NULL AND n.last_heartbeat > now() - h.stale_ms * interval '1 millisecond'
     AND (h.listener_lock IS NULL OR NOT pg_try_advisory_xact_lock_shared(h.listener_lock))
   ORDER BY h.armed_at LIMIT 1
   FOR UPDATE OF h SKIP LOCKED
), ins AS (
  INSERT INTO {{schema}}.runs
    (task, queue, priority, payload, key, run_at, expires_at, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key,
     status, node_id, attempt, started_at, lease_until)
  SELECT @task, o.queue, o.priority, @payload::jsonb, @key, now(), now() + @grace_ms::bigint * interval '1 millisecond', o.max_retries, o.backoff_ms, o.backoff_max_ms, o.timeout_ms, o.lock_key,
         CASE WHEN t.node_id IS NULL THEN 'pending' ELSE 'running' END, t.node_id,
         CASE WHEN t.node_id IS NULL THEN 0 ELSE 1 END,
         CASE WHEN t.node_id IS NULL THEN NULL ELSE now() END,
         now() + t.lease_ms * interval '1 millisecond'
    FROM o LEFT JOIN taker t ON true
  RETURNING run_id, task, queue, priority, payload, key, run_at, max_retries, backoff_ms, backoff_max_ms, timeout_ms,
            lock_key, node_id
), taken AS (
  UPDATE {{schema}}.handoffs h SET run_id = i.run_id FROM ins i WHERE h.node_id = i.node_id
)
SELECT i.run_id, i.key, t.run_at_ms, i.node_id AS handed_to,
       CASE WHEN i.node_id IS NOT NULL THEN pg_notify({{channel}},
         CASE WHEN octet_length(i.payload::text) < 7000
              THEN json_build_object('t', 'handoff', 'n', i.node_id, 'k', t.token, 'run_id', i.run_id, 'task', i.task, 'queue', i.queue,
                     'priority', i.priority, 'payload', i.payload, 'key', i.key, 'at', t.run_at_ms,
                     'max_retries', i.max_retries, 'backoff_ms', i.backoff_ms, 'backoff_max_ms', i.backoff_max_ms,
                     'timeout_ms', i.timeout_ms, 'lock_key', i.lock_key)::text
              ELSE json_build_object('t', 'handoff', 'n', i.node_id, 'k', t.token, 'run_id', i.run_id)::text END) END AS notified
  FROM ins i CROSS JOIN LATERAL (SELECT floor(extract(epoch FROM i.run_at) * 1000) AS run_at_ms, (SELECT token FROM taker) AS token) t;

-- name: claimRuns
-- Claim up to @batch_size due runs of the given queues and tasks for node @node_id, highest priority (lowest
-- number) first, then earliest due. SKIP LOCKED lets every node claim at once without waiting on
-- each other; the attempt number doubles as the fencing token. A serial run (overlap policy of a
-- schedule) waits while another run of its job is running. The statement lives in claim_runs
-- (migration 0009) so that it is always planned as an ordered index scan. @ahead_ms (ms): also
-- claim what is due that soon; the node starts such a run at its due time.
-- Not null: run_id, task, job_type, queue, priority, run_at, attempt, max_retries, backoff_ms, backoff_max_ms, started_at, rescues, cancel_requested, due_in_ms
SELECT * FROM {{schema}}.claim_runs(@node_id, @queues::text[], @batch_size, @tasks::text[], @now::timestamptz, @lease_ms::bigint, @node_name, @node_tags::text[], @ahead_ms::bigint);

-- name: nextDue
-- When is the next pending run of these queues due? (sets the producer's timer) And the database
-- clock, a sample for the node's clock offset.
-- Not null: db_time
SELECT (SELECT run_at FROM {{schema}}.runs
         WHERE status = 'pending' AND queue = ANY(@queues::text[]) AND task = ANY(@tasks::text[])
         ORDER BY run_at LIMIT 1) AS run_at,
       clock_timestamp() AS db_time;

-- name: dueFrom
-- Due times of pending runs of these queues and tasks at or after @from, up to @within_ms ms from now: a
-- NOTIFY's due time is not trusted (anyone may send one), so the producer sets its timer for
-- the real due times it finds from there (at most 8; any later ones wait for its next nextDue
-- look-up or the poll, as runs it was never told of do).
SELECT DISTINCT run_at FROM {{schema}}.runs
 WHERE status = 'pending' AND queue = ANY(@queues::text[]) AND task = ANY(@tasks::text[])
   AND run_at >= @from::timestamptz AND run_at <= clock_timestamp() + @within_ms::bigint * interval '1 millisecond'
 ORDER BY run_at LIMIT 8;

-- name: completeRuns
-- Record a batch of successful attempts of node @node_id. Fencing: only a run still running on this
-- node with this attempt number is completed; a late write from a node whose run was rescued
-- matches nothing. The run leaves the queue and its record goes to job_logs. finished_at is the
-- clock at this statement, clock_timestamp(), not now(): a SQL job records its completion inside
-- its own transaction, whose now() is the time the transaction began (before the job ran). The
-- node's @now (a test clock) wins when given.
-- @attempts is a JSON object keyed by run id, each value [attempt, duration_ms] or [attempt, duration_ms,
-- output], and @run_ids the ids: no join between the batch and runs, so the statement stays linear in
-- the batch whatever the planner believes of runs (with a join and stale statistics it chose a
-- nested loop of every running run times every batch item: 40 ms a batch). Arrays, not objects
-- with named fields: a quarter of the bytes to send and to parse.
WITH done AS (
  DELETE FROM {{schema}}.runs r
   WHERE r.run_id = ANY(@run_ids::bigint[]) AND r.status = 'running' AND r.node_id = @node_id
     AND r.attempt = (@attempts::jsonb -> r.run_id::text ->> 0)::int
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.started_at, r.payload, r.owner,
            (@attempts::jsonb -> r.run_id::text ->> 1)::double precision AS duration_ms,
            nullif(@attempts::jsonb -> r.run_id::text -> 2, 'null'::jsonb) AS output
), jobs_done AS (
  UPDATE {{schema}}.jobs j
     SET last_run = d.started_at, last_status = true, last_message = NULL, current_attempts = 0
    FROM (SELECT DISTINCT ON (job_id) job_id, started_at FROM done WHERE job_id IS NOT NULL
           ORDER BY job_id, started_at DESC) d
   WHERE j.job_id = d.job_id
), logged AS (
  INSERT INTO {{schema}}.job_logs
    (job_id, run_id, task, queue, key, attempt, status, scheduled_at, run_time, finished_at, duration, node_id, payload, output, owner)
  SELECT d.job_id, d.run_id, d.task, d.queue, d.key, d.attempt, 'completed', d.scheduled_at, d.started_at,
         coalesce(@now::timestamptz, clock_timestamp()), d.duration_ms * interval '1 millisecond', @node_id, d.payload, d.output, d.owner
    FROM done d
)
SELECT d.run_id, d.job_id FROM done d;

-- name: failRuns
-- Record a batch of failed attempts of node @node_id. Each input row says how the attempt ended
-- ('failed', 'timeout' or 'cancelled') and the backoff delay to use if it is retried (null: a
-- failure no retry can change, not retried). A run is
-- retried while it has retries left, was not cancelled, and its job is not being disabled by this
-- failure (max_attempts consecutive failed attempts); otherwise it leaves the queue as failed.
-- @failures and @run_ids as in completeRuns; finished_at as there.
-- Not null: run_id, task, queue, status, run_at
WITH decided AS (
  SELECT r.run_id, i.attempt, i.outcome, i.message, i.delay_ms, i.duration_ms, nullif(i.output, 'null'::jsonb) AS output, r.job_id,
         (j.job_id IS NOT NULL AND i.outcome <> 'cancelled' AND j.enabled AND j.max_attempts IS NOT NULL
            AND j.current_attempts::bigint + 1 >= j.max_attempts) AS disables,
         (i.outcome <> 'cancelled' AND r.attempt <= r.max_retries AND i.delay_ms IS NOT NULL) AS has_retries
    FROM {{schema}}.runs r
   CROSS JOIN LATERAL jsonb_to_record(@failures::jsonb -> r.run_id::text)
         AS i(attempt int, outcome text, message text, delay_ms bigint, duration_ms double precision, output jsonb)
    LEFT JOIN {{schema}}.jobs j ON j.job_id = r.job_id
   WHERE r.run_id = ANY(@run_ids::bigint[]) AND r.attempt = i.attempt AND r.status = 'running' AND r.node_id = @node_id
), retried AS (
  UPDATE {{schema}}.runs r
     SET status = 'pending', node_id = NULL, lease_until = NULL, last_error = d.message, cancel_requested = false,
         cancel_reason = NULL, run_at = coalesce(@now::timestamptz, now()) + d.delay_ms * interval '1 millisecond'
    FROM decided d
   WHERE r.run_id = d.run_id AND r.run_id = ANY(@run_ids::bigint[]) AND d.has_retries AND NOT d.disables
     AND r.attempt = d.attempt AND r.status = 'running' AND r.node_id = @node_id
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.started_at, r.payload, r.run_at,
            r.owner, d.outcome, d.message, d.duration_ms, d.output, 'retrying'::text AS final_status
), finished AS (
  DELETE FROM {{schema}}.runs r USING decided d
   WHERE r.run_id = d.run_id AND r.run_id = ANY(@run_ids::bigint[]) AND NOT (d.has_retries AND NOT d.disables)
     AND r.attempt = d.attempt AND r.status = 'running' AND r.node_id = @node_id
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.started_at, r.payload, r.run_at,
            r.owner, d.outcome, d.message, d.duration_ms, d.output,
            CASE WHEN d.outcome = 'cancelled' THEN 'cancelled' ELSE 'failed' END AS final_status
), affected AS (
  SELECT * FROM retried UNION ALL SELECT * FROM finished
), jobs_failed AS (
  UPDATE {{schema}}.jobs j
     SET last_run = a.started_at,
         last_status = CASE WHEN a.cancelled THEN j.last_status ELSE false END,
         last_message = CASE WHEN a.cancelled THEN j.last_message ELSE a.message END,
         -- bigint, capped: a count written at the integer limit (plain SQL) must not fail the
         -- whole batch, which holds other jobs' failures (issue #12, class 6).
         current_attempts = least(j.current_attempts::bigint + a.failures, 2147483647)::int,
         enabled = j.enabled AND NOT (j.max_attempts IS NOT NULL AND j.current_attempts::bigint + a.failures >= j.max_attempts)
    FROM (SELECT job_id, max(started_at) AS started_at, count(*) FILTER (WHERE outcome <> 'cancelled')::int AS failures,
                 bool_and(outcome = 'cancelled') AS cancelled, (array_agg(message ORDER BY started_at DESC))[1] AS message
            FROM affected WHERE job_id IS NOT NULL GROUP BY job_id) a
   WHERE j.job_id = a.job_id
  RETURNING j.job_id, j.job_name, j.enabled
), logged AS (
  INSERT INTO {{schema}}.job_logs
    (job_id, run_id, task, queue, key, attempt, status, scheduled_at, run_time, finished_at, duration, message, node_id, payload, output, owner)
  SELECT a.job_id, a.run_id, a.task, a.queue, a.key, a.attempt, a.final_status, a.scheduled_at, a.started_at,
         coalesce(@now::timestamptz, clock_timestamp()), a.duration_ms * interval '1 millisecond', a.message, @node_id, a.payload, a.output, a.owner
    FROM affected a
)
SELECT a.run_id, a.job_id, a.task, a.key, a.queue, a.final_status AS status, a.run_at,
       (SELECT NOT jf.enabled FROM jobs_failed jf WHERE jf.job_id = a.job_id) AS job_disabled,
       (SELECT jf.job_name FROM jobs_failed jf WHERE jf.job_id = a.job_id) AS job_name
  FROM affected a;

-- name: releaseRuns
-- Hand runs of node @node_id back to the queue at once (graceful shutdown, exclusive lock busy). The
-- attempt does not count: the next claim bumps the attempt number, which fences off this node.
-- Not null: notified
WITH released AS (
  UPDATE {{schema}}.runs r
     SET status = 'pending', node_id = NULL, lease_until = NULL,
         run_at = coalesce(@now::timestamptz, now()) + coalesce(@delay_ms::bigint, 0) * interval '1 millisecond',
         attempt = r.attempt - CASE WHEN @uncount::boolean THEN 1 ELSE 0 END
   WHERE r.node_id = @node_id AND r.status = 'running' AND r.run_id = ANY(@run_ids::bigint[])
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.started_at, r.payload, r.run_at, r.owner
), logged AS (
  INSERT INTO {{schema}}.job_logs
    (job_id, run_id, task, queue, key, attempt, status, scheduled_at, run_time, finished_at, duration, message, node_id, payload, owner)
  SELECT x.job_id, x.run_id, x.task, x.queue, x.key, x.attempt, 'released', x.scheduled_at, x.started_at,
         coalesce(@now::timestamptz, now()), coalesce(@now::timestamptz, now()) - x.started_at, @message, @node_id, x.payload, x.owner
    FROM released x WHERE @message::text IS NOT NULL
), notified AS (
  SELECT pg_notify({{channel}}, json_build_object('t', 'runs', 'q', queue, 'at', min(run_at))::text)
    FROM released GROUP BY queue
)
SELECT x.run_id, x.task, x.key, (SELECT count(*) FROM notified) AS notified FROM released x;

-- name: rescueRuns
-- Runs whose lease ran out belong to a node that stopped heartbeating (crashed, frozen, cut off).
-- Hand them back to the queue, or fail them once they have been rescued @max_rescues times (a run that
-- kills every node that takes it must not loop forever). The next claim bumps the attempt, so a
-- late completion from the old node is fenced off. The history row names the node that lost the run
-- (its node_id before the rescue clears it): the attempt ran there.
-- Not null: run_id, task, status, notified
WITH expired AS (
  SELECT r.run_id, r.node_id FROM {{schema}}.runs r
   WHERE r.status = 'running' AND r.lease_until < coalesce(@now::timestamptz, now())
   ORDER BY r.lease_until LIMIT 1000
   FOR UPDATE SKIP LOCKED
), requeued AS (
  UPDATE {{schema}}.runs r
     SET status = 'pending', node_id = NULL, lease_until = NULL, rescues = r.rescues + 1,
         run_at = coalesce(@now::timestamptz, now()), last_error = 'lease expired on node ' || r.node_id
    FROM expired e
   WHERE r.run_id = e.run_id AND r.rescues < @max_rescues
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.started_at, r.payload,
            r.run_at, r.owner, r.last_error AS message, 'rescued'::text AS status, e.node_id
), abandoned AS (
  DELETE FROM {{schema}}.runs r USING expired e
   WHERE r.run_id = e.run_id AND r.rescues >= @max_rescues
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.started_at, r.payload,
            r.run_at, r.owner, 'abandoned after ' || r.rescues || ' rescues; lease expired on node ' || r.node_id AS message,
            'failed'::text AS status, r.node_id
), affected AS (
  SELECT * FROM requeued UNION ALL SELECT * FROM abandoned
), logged AS (
  INSERT INTO {{schema}}.job_logs
    (job_id, run_id, task, queue, key, attempt, status, scheduled_at, run_time, finished_at, duration, message, node_id, payload, owner)
  SELECT a.job_id, a.run_id, a.task, a.queue, a.key, a.attempt, a.status, a.scheduled_at, a.started_at,
         coalesce(@now::timestamptz, now()), coalesce(@now::timestamptz, now()) - a.started_at, a.message, a.node_id, a.payload, a.owner
    FROM affected a
), notified AS (
  SELECT pg_notify({{channel}}, json_build_object('t', 'runs', 'q', queue, 'at', min(run_at))::text)
    FROM requeued GROUP BY queue
)
SELECT a.run_id, a.task, a.key, a.status, (SELECT count(*) FROM notified) AS notified FROM affected a;

-- name: expireRuns
-- Pending runs not started within their misfire grace time are dropped as 'expired', not run.
WITH gone AS (
  DELETE FROM {{schema}}.runs r
   WHERE r.run_id IN (SELECT run_id FROM {{schema}}.runs
                       WHERE status = 'pending' AND expires_at < coalesce(@now::timestamptz, now())
                       ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.payload, r.run_at, r.expires_at, r.owner
), logged AS (
  INSERT INTO {{schema}}.job_logs
    (job_id, run_id, task, queue, key, attempt, status, scheduled_at, finished_at, message, payload, owner)
  SELECT g.job_id, g.run_id, g.task, g.queue, g.key, g.attempt, 'expired', g.scheduled_at, coalesce(@now::timestamptz, now()),
         'not started within its misfire grace time (due ' || g.run_at || ', expired ' || g.expires_at || ')', g.payload, g.owner
    FROM gone g
)
SELECT g.run_id, g.task, g.key FROM gone g;

-- name: cancelRun
-- Cancel one run (see cancel_run_details in the SQL API: one implementation for both).
-- Not null: previous, task
SELECT * FROM {{schema}}.cancel_run_details(@run_id, @now, @reason);

-- name: getRun
SELECT r.*, j.job_name FROM {{schema}}.runs r LEFT JOIN {{schema}}.jobs j ON j.job_id = r.job_id WHERE r.run_id = @run_id;

-- name: lastHistoryOfRun
-- The newest history entry of run @run_id (its last finished attempt).
SELECT l.*, j.job_name FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id
 WHERE l.run_id = @run_id ORDER BY l.log_id DESC LIMIT 1;

-- name: listRuns
-- Live runs (pending and running), filtered by each parameter that is not null; at most @max_rows.
SELECT r.*, j.job_name FROM {{schema}}.runs r LEFT JOIN {{schema}}.jobs j ON j.job_id = r.job_id
 WHERE (@status::text IS NULL OR r.status = @status) AND (@task::text IS NULL OR r.task = @task)
   AND (@queue::text IS NULL OR r.queue = @queue) AND (@job_name::text IS NULL OR j.job_name = @job_name)
 ORDER BY r.run_at, r.run_id LIMIT @max_rows;

-- name: listHistory
-- The history (one entry per finished attempt), newest first, filtered by each parameter that is not null; at most @max_rows.
SELECT l.*, j.job_name FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id
 WHERE (@job_name::text IS NULL OR j.job_name = @job_name) AND (@run_id::bigint IS NULL OR l.run_id = @run_id)
   AND (@status::text IS NULL OR l.status = @status) AND (@task::text IS NULL OR l.task = @task)
 ORDER BY l.log_id DESC LIMIT @max_rows;

-- name: runIsSerial
-- Whether run @run_id, still running on node @node_id, is serial (its job's overlap policy is not
-- 'allow'): read only when an attempt is aborted, to know whether its retry must wait for the
-- handler to return.
-- Not null: serial
SELECT coalesce((SELECT serial FROM {{schema}}.runs WHERE run_id = @run_id AND node_id = @node_id), false) AS serial;
