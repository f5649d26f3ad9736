-- Named queries on job definitions and their occurrences.

-- name: lockJobByName
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms, coalesce($2::timestamptz, now()) AS db_now
  FROM {{schema}}.jobs j WHERE j.job_name = $1 FOR UPDATE;

-- name: insertJob
-- $1 is the definition as JSON (keys named after the columns).
INSERT INTO {{schema}}.jobs AS j
  (job_name, job_type, command, description, schedule_kind, cron, timezone, schedule_interval, schedule_time,
   end_time, max_runs, catch_up, max_lateness_ms, misfire_grace_ms, overlap, payload, queue, priority, max_retries,
   backoff_ms, backoff_max_ms, timeout_ms, lock_key, max_attempts, enabled, next_run, planned, labels,
   exceptions, node_name, node_tags)
SELECT x.job_name, x.job_type, x.command, x.description, x.schedule_kind, x.cron, x.timezone,
       x.interval_ms * interval '1 millisecond', x.schedule_time, x.end_time, x.max_runs, x.catch_up,
       x.max_lateness_ms, x.misfire_grace_ms, x.overlap, coalesce(x.payload, 'null'::jsonb), x.queue, x.priority, x.max_retries,
       x.backoff_ms, x.backoff_max_ms, x.timeout_ms, x.lock_key, x.max_attempts, x.enabled, x.next_run, true,
       x.labels, x.exceptions, x.node_name, x.node_tags
  FROM jsonb_to_record($1::jsonb) AS x(job_name text, job_type text, command text, description text,
       schedule_kind text, cron text, timezone text, interval_ms bigint, schedule_time timestamptz,
       end_time timestamptz, max_runs int, catch_up text, max_lateness_ms bigint, misfire_grace_ms bigint,
       overlap text, payload jsonb, queue text, priority int, max_retries int, backoff_ms int, backoff_max_ms int,
       timeout_ms int, lock_key text, max_attempts int, enabled boolean, next_run timestamptz, labels text[],
       exceptions jsonb, node_name text, node_tags text[])
RETURNING j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms;

-- name: updateJob
-- Replace a definition (by job_id $2). When the schedule changed ($3), next_run and the run count
-- start afresh; otherwise the stored next_run is kept so that replicas re-declaring the same
-- schedule at start-up never move it.
UPDATE {{schema}}.jobs AS j
   SET job_type = x.job_type, command = x.command, description = x.description, schedule_kind = x.schedule_kind,
       cron = x.cron, timezone = x.timezone, schedule_interval = x.interval_ms * interval '1 millisecond',
       schedule_time = x.schedule_time, end_time = x.end_time, max_runs = x.max_runs, catch_up = x.catch_up,
       max_lateness_ms = x.max_lateness_ms, misfire_grace_ms = x.misfire_grace_ms, overlap = x.overlap,
       payload = coalesce(x.payload, 'null'::jsonb), queue = x.queue, priority = x.priority, max_retries = x.max_retries,
       backoff_ms = x.backoff_ms, backoff_max_ms = x.backoff_max_ms, timeout_ms = x.timeout_ms,
       lock_key = x.lock_key, max_attempts = x.max_attempts, labels = x.labels, exceptions = x.exceptions,
       node_name = x.node_name, node_tags = x.node_tags, updated_at = now(),
       next_run = CASE WHEN $3::boolean THEN x.next_run ELSE j.next_run END,
       run_count = CASE WHEN $3::boolean THEN 0 ELSE j.run_count END,
       planned = true
  FROM jsonb_to_record($1::jsonb) AS x(job_type text, command text, description text,
       schedule_kind text, cron text, timezone text, interval_ms bigint, schedule_time timestamptz,
       end_time timestamptz, max_runs int, catch_up text, max_lateness_ms bigint, misfire_grace_ms bigint,
       overlap text, payload jsonb, queue text, priority int, max_retries int, backoff_ms int, backoff_max_ms int,
       timeout_ms int, lock_key text, max_attempts int, next_run timestamptz, labels text[], exceptions jsonb,
       node_name text, node_tags text[])
 WHERE j.job_id = $2
RETURNING j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms;

-- name: getJob
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'pending')::int AS pending
  FROM {{schema}}.jobs j WHERE j.job_name = $1;

-- name: listJobs
-- $1 enabled filter, $2 task (command of task jobs), $3 name search (substring), $4 limit,
-- $5 label (pgAgent's job class), $6 job type.
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms
  FROM {{schema}}.jobs j
 WHERE ($1::boolean IS NULL OR j.enabled = $1) AND ($2::text IS NULL OR (j.job_type = 'task' AND j.command = $2))
   AND ($3::text IS NULL OR strpos(lower(j.job_name), lower($3)) > 0)
   AND ($5::text IS NULL OR $5 = ANY (j.labels)) AND ($6::text IS NULL OR j.job_type = $6)
 ORDER BY j.next_run NULLS LAST, j.job_name LIMIT $4;

-- name: setJobEnabled
-- Enabling resets the consecutive-failure count (a job disabled after failures starts clean) and
-- recomputes next_run from now ($3), so a job paused for a week does not replay its backlog.
UPDATE {{schema}}.jobs
   SET enabled = $2, updated_at = now(),
       current_attempts = CASE WHEN $2 THEN 0 ELSE current_attempts END,
       next_run = CASE WHEN $2 THEN $3::timestamptz ELSE next_run END,
       planned = CASE WHEN $2 THEN $3::timestamptz IS NOT NULL OR schedule_kind IN ('manual', 'once') ELSE planned END
 WHERE job_name = $1
RETURNING job_id, job_name, enabled, next_run;

-- name: deleteJob
-- Deleting a job removes its queued runs, occurrences and logs (ON DELETE CASCADE); runs already
-- executing finish on their nodes but their completion then records nothing.
DELETE FROM {{schema}}.jobs WHERE job_name = $1 RETURNING job_id;

-- name: triggerJob
-- Run a job now, outside its schedule (the SQL API's trigger_job: one implementation for both).
SELECT {{schema}}.trigger_job($1, $2::jsonb, $3) AS run_id;

-- name: lockDueJobs
-- The ticker's batch: enabled jobs whose next occurrence is due (or that no node has planned yet),
-- locked so that exactly one node materialises each. $2 lists the custom schedules this node can
-- compute (a next-run function lives in code, so only nodes that have it may plan its job).
-- $4 (ms) is the schedule-ahead window: a job due within it is planned early when its overlap
-- policy allows it or it has no active run (the planner then decides on a free job). "No active
-- run" is a LIMIT 1 probe of runs_job, not NOT EXISTS: under an OR the planner may turn NOT EXISTS
-- into a hash of every run's job_id, a scan of the whole queue on each ticker pass.
-- Ids only: nothing here computes on a row's values, so no malformed row can fail the lock; the
-- values are read next (jobsToPlan), where the ticker can isolate a row. Broken (quarantined) jobs
-- are left out; a cursor outside the years 1-9999 counts as due, so that its row is quarantined.
-- $5: only this job (the ticker's one-at-a-time fallback); $6: jobs this node skips (their
-- quarantine could not be written).
SELECT j.job_id, coalesce($1::timestamptz, now()) AS db_now
  FROM {{schema}}.jobs j
 WHERE j.enabled AND j.broken_at IS NULL
   AND ((j.planned AND j.next_run <= coalesce($1::timestamptz, now()) + $4::bigint * interval '1 millisecond'
         AND (j.next_run <= coalesce($1::timestamptz, now()) OR j.overlap = 'allow'
              OR (SELECT 1 FROM {{schema}}.runs r WHERE r.job_id = j.job_id LIMIT 1) IS NULL))
        OR NOT j.planned
        OR j.next_run < '0001-01-01 00:00:00+00' OR j.next_run >= '10000-01-01 00:00:00+00')
   AND (j.schedule_kind <> 'custom' OR j.job_name = ANY($2::text[]))
   AND ($5::int IS NULL OR j.job_id = $5)
   AND NOT (j.job_id = ANY($6::int[]))
 ORDER BY j.next_run NULLS FIRST
 LIMIT $3
   FOR UPDATE SKIP LOCKED;

-- name: jobsToPlan
-- What the planner needs of the jobs lockDueJobs locked ($1), with their active runs.
SELECT j.job_id, j.job_name, j.job_type, j.command, j.schedule_kind, j.cron, j.timezone,
       EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms, j.schedule_time, j.end_time, j.max_runs,
       j.run_count, j.planned, j.next_run, j.created_at, j.catch_up, j.max_lateness_ms, j.misfire_grace_ms, j.overlap,
       j.exceptions,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'pending')::int AS pending
  FROM {{schema}}.jobs j
 WHERE j.job_id = ANY($1::int[]);

-- name: quarantineJob
-- Mark job $1 broken with reason $2 (migration 0016): the ticker skips it until it is redefined.
-- A cursor outside the years 1-9999 is cleared (the reason names it), so that no reader of the
-- row meets a time it cannot hold.
UPDATE {{schema}}.jobs
   SET broken_at = coalesce($3::timestamptz, now()), broken_reason = left($2, 2000),
       next_run = CASE WHEN next_run >= '0001-01-01 00:00:00+00' AND next_run < '10000-01-01 00:00:00+00' THEN next_run END
 WHERE job_id = $1 AND broken_at IS NULL
RETURNING job_id, job_name, owner;

-- name: applyPlans
-- Write the ticker's decisions in one statement: the new cursor of each job ($1), the occurrences
-- ($2; the primary key makes each exactly-once: a conflicting one inserts nothing and so creates
-- no run), the runs of the occurrences that fire, and for 'replace' the pending runs dropped and
-- running ones told to stop ($3 job ids).
WITH plan AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(job_id int, next_run timestamptz, fired int)
), moved AS (
  UPDATE {{schema}}.jobs j SET next_run = p.next_run, run_count = j.run_count + p.fired, planned = true
    FROM plan p WHERE j.job_id = p.job_id
  RETURNING j.job_id
), occ_input AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(job_id int, scheduled_at timestamptz, outcome text)
), occ AS (
  INSERT INTO {{schema}}.occurrences (job_id, scheduled_at, outcome, node_id)
  SELECT o.job_id, o.scheduled_at, o.outcome, $4 FROM occ_input o
  ON CONFLICT (job_id, scheduled_at) DO NOTHING
  RETURNING job_id, scheduled_at, outcome
), replaced AS (
  DELETE FROM {{schema}}.runs r WHERE r.job_id = ANY($3::int[]) AND r.status = 'pending'
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.payload, r.owner
), replaced_log AS (
  INSERT INTO {{schema}}.job_logs (job_id, run_id, task, queue, key, attempt, status, scheduled_at, finished_at, message, payload, owner)
  SELECT x.job_id, x.run_id, x.task, x.queue, x.key, x.attempt, 'cancelled', x.scheduled_at, coalesce($5::timestamptz, now()),
         'replaced by a newer occurrence (overlap policy replace)', x.payload, x.owner
    FROM replaced x
  RETURNING run_id
), stopping AS (
  UPDATE {{schema}}.runs r SET cancel_requested = true, cancel_reason = 'replaced by a newer occurrence (overlap policy replace)'
   WHERE r.job_id = ANY($3::int[]) AND r.status = 'running'
  RETURNING r.run_id, r.node_id
), stop_notified AS (
  SELECT pg_notify({{channel}}, json_build_object('t', 'cancel', 'run', s.run_id, 'node', s.node_id)::text) FROM stopping s
), inserted AS (
  INSERT INTO {{schema}}.runs (job_id, task, job_type, queue, priority, payload, scheduled_at, run_at, expires_at,
                               max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key, serial, owner, node_name, node_tags)
  SELECT j.job_id, CASE WHEN j.job_type = 'task' THEN j.command ELSE '@' || j.job_type END, j.job_type, j.queue,
         j.priority, j.payload, o.scheduled_at, o.scheduled_at,
         CASE WHEN j.misfire_grace_ms IS NULL THEN NULL
              ELSE greatest(o.scheduled_at, coalesce($5::timestamptz, now())) + j.misfire_grace_ms * interval '1 millisecond' END,
         j.max_retries, j.backoff_ms, j.backoff_max_ms, j.timeout_ms, j.lock_key, j.overlap <> 'allow',
         j.owner, j.node_name, j.node_tags
    FROM occ o JOIN {{schema}}.jobs j ON j.job_id = o.job_id
   WHERE o.outcome = 'run'
   ORDER BY o.scheduled_at
  RETURNING run_id, job_id, task, key, scheduled_at, queue, run_at
)
SELECT i.run_id, i.job_id, i.task, i.key, i.scheduled_at, i.queue, i.run_at,
       (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM stop_notified) AS stopped,
       (SELECT count(*) FROM replaced_log) AS replaced
  FROM inserted i;

-- name: nextJobDue
-- When must the ticker wake next? The earliest next_run of an enabled job (or $1 ms before it, for
-- a job lockDueJobs would plan ahead), whether any job waits to be planned, and the database
-- clock (to convert a due time into a local timer). Broken jobs are left out; a cursor outside
-- the years 1-9999 (a malformed row, which lockDueJobs takes as due) asks for a pass now instead
-- of being a time: -infinity minus the window would not even compute.
SELECT least(
         (SELECT next_run FROM {{schema}}.jobs
           WHERE enabled AND broken_at IS NULL
             AND next_run >= '0001-01-01 00:00:00+00' AND next_run < '10000-01-01 00:00:00+00'
           ORDER BY next_run LIMIT 1),
         (SELECT j.next_run - $1::bigint * interval '1 millisecond' FROM {{schema}}.jobs j
           WHERE j.enabled AND j.broken_at IS NULL
             AND j.next_run >= '0001-01-01 00:00:00+00' AND j.next_run < '10000-01-01 00:00:00+00'
             AND (j.overlap = 'allow' OR (SELECT 1 FROM {{schema}}.runs r WHERE r.job_id = j.job_id LIMIT 1) IS NULL)
           ORDER BY j.next_run LIMIT 1)) AS next_run,
       (EXISTS (SELECT 1 FROM {{schema}}.jobs WHERE enabled AND NOT planned AND broken_at IS NULL AND schedule_kind <> 'custom')
        OR EXISTS (SELECT 1 FROM {{schema}}.jobs WHERE enabled AND broken_at IS NULL AND schedule_kind <> 'custom'
                      AND (next_run < '0001-01-01 00:00:00+00' OR next_run >= '10000-01-01 00:00:00+00'))) AS unplanned,
       clock_timestamp() AS db_time;

-- name: jobForRun
-- What an in-database job's executor needs, read when its attempt starts: job $1 of run $2, with
-- the run's owner and kind, which must be the job's (the executor refuses a run that is not).
SELECT j.job_id, j.job_name, j.job_type, j.command, j.database_name, j.owner, j.options, j.timeout_ms,
       (SELECT value FROM {{schema}}.settings WHERE key = 'role_shell') AS shell_role,
       current_database() AS current_database, r.owner AS run_owner, r.job_type AS run_type
  FROM {{schema}}.jobs j LEFT JOIN {{schema}}.runs r ON r.run_id = $2 WHERE j.job_id = $1;

-- name: stepsOfJob
SELECT s.*, (SELECT coalesce(bool_or(l.status = 'succeeded'), false) FROM {{schema}}.step_logs l
              WHERE l.run_id = $2 AND l.step_id = s.step_id AND l.status = 'succeeded') AS succeeded_before
  FROM {{schema}}.job_steps s WHERE s.job_id = $1 ORDER BY s.position;

-- name: insertStepLog
INSERT INTO {{schema}}.step_logs (run_id, attempt, job_id, step_id, position, name, status, started_at, finished_at,
                                  duration, message, output, owner, node_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::double precision * interval '1 millisecond', $11, $12, $13, $14);

-- name: isRoleMember
SELECT pg_has_role($1::name, $2::name, 'MEMBER') AS member;

-- name: defineJob
-- The CLI's `jobs add`: through the SQL API, so the same rules and errors apply.
SELECT * FROM {{schema}}.define_job(
  job_name => $1, command => $2, job_type => $3, cron => $4::text[],
  every => $5::bigint * interval '1 millisecond', at => $6::timestamptz, timezone => coalesce($7, 'UTC'),
  database => $8, timeout => $9::bigint * interval '1 millisecond', retries => coalesce($10::int, 0),
  overlap => coalesce($11, 'skip'), catch_up => coalesce($12, 'latest'), enabled => coalesce($13::boolean, true),
  payload => coalesce($14::jsonb, '{}'), max_attempts => $15::int);

-- name: purgeHistory
-- Delete attempt records finished before $1 (optionally only of the statuses $2).
DELETE FROM {{schema}}.job_logs WHERE finished_at < $1 AND ($2::text[] IS NULL OR status = ANY($2::text[]));

-- name: logsAfter
-- History records newer than log id $1, oldest first (for `kairos logs --follow`).
SELECT l.*, j.job_name FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id
 WHERE l.log_id > $1 AND ($2::text IS NULL OR j.job_name = $2) ORDER BY l.log_id LIMIT 500;
