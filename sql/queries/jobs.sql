-- Named queries on job definitions and their occurrences.

-- name: lockJobByName
-- Job @job_name, locked for an enable/disable, with the clock (@now; null = the database's).
-- Not null: db_now
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms, coalesce(@now::timestamptz, now()) AS db_now
  FROM {{schema}}.jobs j WHERE j.job_name = @job_name FOR UPDATE;

-- name: storeJob
-- Insert or update a job definition by name: store_job (migration 0020), the one rule, which the
-- SQL API's define_job follows too. @definition is the definition as JSON (keys named after the
-- columns of jobs; "if_new" holds the columns written only when the job is created);
-- @first_next_run is the first next_run of a new or changed schedule, computed by the caller;
-- an unchanged schedule keeps its next_run and run_count (replicas re-declaring it at start-up
-- never move it). @at is the clock (null = the database's): an interval without startAt is
-- anchored at it when created or changed, and keeps that anchor.
-- Not null: job_id, job_name, job_type, command, enabled, current_attempts, created_at, updated_at, schedule_kind, timezone, run_count, planned, catch_up, max_lateness_ms, overlap, payload, queue, priority, max_retries, backoff_ms, backoff_max_ms, owner, node_tags, labels, options, exceptions
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms
  FROM {{schema}}.store_job(@definition::jsonb, @first_next_run::timestamptz, @at::timestamptz) j;

-- name: getJob
-- Job @job_name with the number of its runs running and pending.
-- Not null: running, pending
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'pending')::int AS pending
  FROM {{schema}}.jobs j WHERE j.job_name = @job_name;

-- name: listJobs
-- Filters (null: any): @enabled, @task (command of task jobs), @search (substring of the name),
-- @label (pgAgent's job class), @job_type; at most @limit jobs.
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms
  FROM {{schema}}.jobs j
 WHERE (@enabled::boolean IS NULL OR j.enabled = @enabled) AND (@task::text IS NULL OR (j.job_type = 'task' AND j.command = @task))
   AND (@search::text IS NULL OR strpos(lower(j.job_name), lower(@search)) > 0)
   AND (@label::text IS NULL OR @label = ANY (j.labels)) AND (@job_type::text IS NULL OR j.job_type = @job_type)
 ORDER BY j.next_run NULLS LAST, j.job_name LIMIT @limit;

-- name: setJobEnabled
-- Enable or disable job @job_name (@enabled). Enabling resets the consecutive-failure count (a job
-- disabled after failures starts clean) and sets next_run to @next_run, planned from now, so a job
-- paused for a week does not replay its backlog.
UPDATE {{schema}}.jobs
   SET enabled = @enabled, updated_at = now(),
       current_attempts = CASE WHEN @enabled THEN 0 ELSE current_attempts END,
       next_run = CASE WHEN @enabled THEN @next_run::timestamptz ELSE next_run END,
       planned = CASE WHEN @enabled THEN @next_run::timestamptz IS NOT NULL OR schedule_kind IN ('manual', 'once') ELSE planned END
 WHERE job_name = @job_name
RETURNING job_id, job_name, enabled, next_run;

-- name: deleteJob
-- Deleting job @job_name removes its queued runs, occurrences and logs (ON DELETE CASCADE); runs already
-- executing finish on their nodes but their completion then records nothing.
DELETE FROM {{schema}}.jobs WHERE job_name = @job_name RETURNING job_id;

-- name: triggerJob
-- Run job @job_name now, outside its schedule (the SQL API's trigger_job: one implementation for
-- both), with @payload (JSON; null = the job's) and due at @now (the clock; null = the database's).
-- trigger_job raises P0002 when there is no such job, so a row always holds the new run's id.
-- Not null: run_id
SELECT {{schema}}.trigger_job(@job_name, @payload::jsonb, @now) AS run_id;

-- name: lockDueJobs
-- The ticker's batch: enabled jobs whose next occurrence is due (or that no node has planned yet),
-- locked so that exactly one node materialises each, at most @limit, by the clock @now (null = the
-- database's). @custom_schedules lists the custom schedules (job names) this node can compute (a
-- next-run function lives in code, so only nodes that have it may plan its job).
-- @ahead_ms is the schedule-ahead window: a job due within it is planned early when its overlap
-- policy allows it or it has no active run (the planner then decides on a free job). "No active
-- run" is a LIMIT 1 probe of runs_job, not NOT EXISTS: under an OR the planner may turn NOT EXISTS
-- into a hash of every run's job_id, a scan of the whole queue on each ticker pass.
-- Ids only: nothing here computes on a row's values, so no malformed row can fail the lock; the
-- values are read next (jobsToPlan), where the ticker can isolate a row. Broken (quarantined) jobs
-- are left out; a cursor outside the years 1-9999 counts as due, so that its row is quarantined.
-- @only_job_id: only this job (the ticker's one-at-a-time fallback); @skipped_job_ids: jobs this
-- node skips (their quarantine could not be written).
-- Not null: db_now
SELECT j.job_id, coalesce(@now::timestamptz, now()) AS db_now
  FROM {{schema}}.jobs j
 WHERE j.enabled AND j.broken_at IS NULL
   AND ((j.planned AND j.next_run <= coalesce(@now::timestamptz, now()) + @ahead_ms::bigint * interval '1 millisecond'
         AND (j.next_run <= coalesce(@now::timestamptz, now()) OR j.overlap = 'allow'
              OR (SELECT 1 FROM {{schema}}.runs r WHERE r.job_id = j.job_id LIMIT 1) IS NULL))
        OR NOT j.planned
        OR j.next_run < '0001-01-01 00:00:00+00' OR j.next_run >= '10000-01-01 00:00:00+00')
   AND (j.schedule_kind <> 'custom' OR j.job_name = ANY(@custom_schedules::text[]))
   AND (@only_job_id::int IS NULL OR j.job_id = @only_job_id)
   AND NOT (j.job_id = ANY(@skipped_job_ids::int[]))
 ORDER BY j.next_run NULLS FIRST
 LIMIT @limit
   FOR UPDATE SKIP LOCKED;

-- name: jobsToPlan
-- What the planner needs of the jobs lockDueJobs locked (@job_ids), with their active runs.
-- Not null: running, pending
SELECT j.job_id, j.job_name, j.job_type, j.command, j.schedule_kind, j.cron, j.timezone,
       EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms, j.schedule_time, j.end_time, j.max_runs,
       j.run_count, j.planned, j.next_run, j.created_at, j.catch_up, j.max_lateness_ms, j.misfire_grace_ms, j.overlap,
       j.exceptions,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'pending')::int AS pending
  FROM {{schema}}.jobs j
 WHERE j.job_id = ANY(@job_ids::int[]);

-- name: quarantineJob
-- Mark job @job_id broken with @reason (migration 0016), at @now (null = the database clock): the ticker skips it until it is redefined.
-- A cursor outside the years 1-9999 is cleared (the reason names it), so that no reader of the
-- row meets a time it cannot hold.
UPDATE {{schema}}.jobs
   SET broken_at = coalesce(@now::timestamptz, now()), broken_reason = left(@reason, 2000),
       next_run = CASE WHEN next_run >= '0001-01-01 00:00:00+00' AND next_run < '10000-01-01 00:00:00+00' THEN next_run END
 WHERE job_id = @job_id AND broken_at IS NULL
RETURNING job_id, job_name, owner;

-- name: applyPlans
-- Write the ticker's decisions in one statement: the new cursor of each job (@cursors, JSON
-- [{job_id, next_run, fired}]), the occurrences (@occurrences, JSON [{job_id, scheduled_at,
-- outcome}], recorded as planned by node @node_id; the primary key makes each exactly-once: a
-- conflicting one inserts nothing and so creates no run), the runs of the occurrences that fire,
-- and for 'replace' the pending runs dropped and running ones told to stop (@replace_job_ids).
-- An element of @occurrences with a message is also a history entry of an occurrence that does
-- not run: outcome 'missed' (dropped by the catch-up policy: history only, no occurrence record)
-- or 'skipped' (by the overlap policy: written only when its occurrence is recorded now, so a
-- replayed plan writes none twice). Each takes a run id of its own that names no run, attempt 0.
-- @now is the clock (null = the database's).
-- Not null: moved, stopped, replaced
WITH plan AS (
  SELECT * FROM jsonb_to_recordset(@cursors::jsonb) AS x(job_id int, next_run timestamptz, fired int)
), moved AS (
  UPDATE {{schema}}.jobs j SET next_run = p.next_run, run_count = j.run_count + p.fired, planned = true
    FROM plan p WHERE j.job_id = p.job_id
  RETURNING j.job_id
), occ_input AS (
  SELECT * FROM jsonb_to_recordset(@occurrences::jsonb) AS x(job_id int, scheduled_at timestamptz, outcome text, message text)
), occ AS (
  INSERT INTO {{schema}}.occurrences (job_id, scheduled_at, outcome, node_id)
  SELECT o.job_id, o.scheduled_at, o.outcome, @node_id FROM occ_input o WHERE o.outcome <> 'missed'
  ON CONFLICT (job_id, scheduled_at) DO NOTHING
  RETURNING job_id, scheduled_at, outcome
), not_run AS (
  INSERT INTO {{schema}}.job_logs (job_id, run_id, task, queue, attempt, status, scheduled_at, finished_at, message, node_id, payload, owner)
  SELECT j.job_id, nextval('{{schema}}.runs_run_id_seq'), CASE WHEN j.job_type = 'task' THEN j.command ELSE '@' || j.job_type END,
         j.queue, 0, h.outcome, h.scheduled_at, coalesce(@now::timestamptz, now()), h.message, @node_id, j.payload, j.owner
    FROM occ_input h JOIN {{schema}}.jobs j ON j.job_id = h.job_id
   WHERE h.message IS NOT NULL AND (h.outcome = 'missed'
      OR EXISTS (SELECT 1 FROM occ o WHERE o.job_id = h.job_id AND o.scheduled_at = h.scheduled_at AND o.outcome = 'skipped'))
  RETURNING log_id
), replaced AS (
  DELETE FROM {{schema}}.runs r WHERE r.job_id = ANY(@replace_job_ids::int[]) AND r.status = 'pending'
  RETURNING r.run_id, r.job_id, r.task, r.queue, r.key, r.attempt, r.scheduled_at, r.payload, r.owner
), replaced_log AS (
  INSERT INTO {{schema}}.job_logs (job_id, run_id, task, queue, key, attempt, status, scheduled_at, finished_at, message, payload, owner)
  SELECT x.job_id, x.run_id, x.task, x.queue, x.key, x.attempt, 'cancelled', x.scheduled_at, coalesce(@now::timestamptz, now()),
         'replaced by a newer occurrence (overlap policy replace)', x.payload, x.owner
    FROM replaced x
  RETURNING run_id
), stopping AS (
  UPDATE {{schema}}.runs r SET cancel_requested = true, cancel_reason = 'replaced by a newer occurrence (overlap policy replace)'
   WHERE r.job_id = ANY(@replace_job_ids::int[]) AND r.status = 'running'
  RETURNING r.run_id, r.node_id
), stop_notified AS (
  SELECT pg_notify({{channel}}, json_build_object('t', 'cancel', 'run', s.run_id, 'node', s.node_id)::text) FROM stopping s
), inserted AS (
  INSERT INTO {{schema}}.runs (job_id, task, job_type, queue, priority, payload, scheduled_at, run_at, expires_at,
                               max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key, serial, owner, node_name, node_tags)
  SELECT j.job_id, CASE WHEN j.job_type = 'task' THEN j.command ELSE '@' || j.job_type END, j.job_type, j.queue,
         j.priority, j.payload, o.scheduled_at, o.scheduled_at,
         CASE WHEN j.misfire_grace_ms IS NULL THEN NULL
              ELSE greatest(o.scheduled_at, coalesce(@now::timestamptz, now())) + j.misfire_grace_ms * interval '1 millisecond' END,
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
-- When must the ticker wake next? The earliest next_run of an enabled job (or @ahead_ms before it,
-- for a job lockDueJobs would plan ahead), whether any job waits to be planned, and the database
-- clock (to convert a due time into a local timer). Broken jobs are left out; a cursor outside
-- the years 1-9999 (a malformed row, which lockDueJobs takes as due) asks for a pass now instead
-- of being a time: -infinity minus the window would not even compute.
-- Not null: unplanned, db_time
SELECT least(
         (SELECT next_run FROM {{schema}}.jobs
           WHERE enabled AND broken_at IS NULL
             AND next_run >= '0001-01-01 00:00:00+00' AND next_run < '10000-01-01 00:00:00+00'
           ORDER BY next_run LIMIT 1),
         (SELECT j.next_run - @ahead_ms::bigint * interval '1 millisecond' FROM {{schema}}.jobs j
           WHERE j.enabled AND j.broken_at IS NULL
             AND j.next_run >= '0001-01-01 00:00:00+00' AND j.next_run < '10000-01-01 00:00:00+00'
             AND (j.overlap = 'allow' OR (SELECT 1 FROM {{schema}}.runs r WHERE r.job_id = j.job_id LIMIT 1) IS NULL)
           ORDER BY j.next_run LIMIT 1)) AS next_run,
       (EXISTS (SELECT 1 FROM {{schema}}.jobs WHERE enabled AND NOT planned AND broken_at IS NULL AND schedule_kind <> 'custom')
        OR EXISTS (SELECT 1 FROM {{schema}}.jobs WHERE enabled AND broken_at IS NULL AND schedule_kind <> 'custom'
                      AND (next_run < '0001-01-01 00:00:00+00' OR next_run >= '10000-01-01 00:00:00+00'))) AS unplanned,
       clock_timestamp() AS db_time;

-- name: jobForRun
-- What an in-database job's executor needs, read when its attempt starts: job @job_id of run
-- @run_id, with the run's owner and kind, which must be the job's (the executor refuses a run that
-- is not); both null when the run is gone.
-- Not null: current_database
SELECT j.job_id, j.job_name, j.job_type, j.command, j.database_name, j.owner, j.options, j.timeout_ms,
       (SELECT value FROM {{schema}}.settings WHERE key = 'role_shell') AS shell_role,
       current_database() AS current_database, r.owner AS run_owner, r.job_type AS run_type
  FROM {{schema}}.jobs j LEFT JOIN {{schema}}.runs r ON r.run_id = @run_id WHERE j.job_id = @job_id;

-- name: stepsOfJob
-- The steps of job @job_id in order, each with whether it succeeded in an earlier attempt of run
-- @run_id.
-- Not null: succeeded_before
SELECT s.*, (SELECT coalesce(bool_or(l.status = 'succeeded'), false) FROM {{schema}}.step_logs l
              WHERE l.run_id = @run_id AND l.step_id = s.step_id AND l.status = 'succeeded') AS succeeded_before
  FROM {{schema}}.job_steps s WHERE s.job_id = @job_id ORDER BY s.position;

-- name: insertStepLog
-- The log of one step of an attempt, written as the step ends: finished by the database clock
-- (clock_timestamp(), not the transaction's start) or the test clock @now, started @duration_ms
-- (measured by the node) before that; @output as JSON text.
INSERT INTO {{schema}}.step_logs (run_id, attempt, job_id, step_id, position, name, status, started_at, finished_at,
                                  duration, message, output, owner, node_id)
SELECT @run_id, @attempt, @job_id, @step_id, @position, @name, @status, t.finished - t.duration, t.finished,
       t.duration, @message, @output, @owner, @node_id
  FROM (SELECT coalesce(@now::timestamptz, clock_timestamp()) AS finished,
               @duration_ms::double precision * interval '1 millisecond' AS duration) t;

-- name: isRoleMember
-- Whether role @member is a member of role @role (null when either is null).
SELECT pg_has_role(@member::name, @role::name, 'MEMBER') AS member;

-- name: defineJob
-- The CLI's `jobs add`: through the SQL API, so the same rules and errors apply. Null arguments
-- take define_job's defaults; @every_ms and @timeout_ms in milliseconds, @payload and @options as JSON text,
-- @retries and @max_attempts as the command line gave them (PostgreSQL's cast refuses a non-number).
-- define_job returns the job it saved (or raises), so its name is never null.
-- Not null: job_name
SELECT * FROM {{schema}}.define_job(
  job_name => @job_name, command => @command, job_type => @job_type, cron => @cron::text[],
  every => @every_ms::bigint * interval '1 millisecond', at => @at::timestamptz, timezone => coalesce(@timezone, 'UTC'),
  database => @database_name, timeout => @timeout_ms::bigint * interval '1 millisecond', retries => coalesce(@retries::text::int, 0),
  overlap => coalesce(@overlap, 'skip'), catch_up => coalesce(@catch_up, 'latest'), enabled => coalesce(@enabled::boolean, true),
  payload => coalesce(@payload::jsonb, '{}'), max_attempts => @max_attempts::text::int, options => coalesce(@options::jsonb, '{}'));

-- name: purgeHistory
-- Delete attempt records finished before @finished_before (optionally only of the statuses @statuses).
DELETE FROM {{schema}}.job_logs WHERE finished_at < @finished_before AND (@statuses::text[] IS NULL OR status = ANY(@statuses::text[]));

-- name: historyAfter
-- History entries newer than log id @after_log_id (of job @job_name, when given), oldest first
-- (for `kairos history --follow`); job_name is null once the job is deleted.
SELECT l.*, j.job_name FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id
 WHERE l.log_id > @after_log_id AND (@job_name::text IS NULL OR j.job_name = @job_name) ORDER BY l.log_id LIMIT 500;

-- name: declareJob
-- A job declared in the agent's YAML file (`jobs:`, src/cli/declared-jobs.ts), through the SQL
-- API's define_job, so the same checks and errors apply and an unchanged declaration changes
-- nothing. pgAgent's calendar arrays (@minutes … @months, any of them null = pgAgent's "none
-- chosen") compile with pgagent_schedule into one more cron line next to @cron's.
SELECT (d).job_name AS job_name
  FROM (SELECT {{schema}}.define_job(
          job_name => @job_name::text, command => @command::text, job_type => @job_type::text,
          cron => nullif(coalesce(@cron::text[], '{}') || CASE WHEN @calendar::boolean THEN ARRAY[{{schema}}.pgagent_schedule(
                    minutes => coalesce(@minutes::boolean[], array_fill(false, ARRAY[60])),
                    hours => coalesce(@hours::boolean[], array_fill(false, ARRAY[24])),
                    weekdays => coalesce(@weekdays::boolean[], array_fill(false, ARRAY[7])),
                    monthdays => coalesce(@monthdays::boolean[], array_fill(false, ARRAY[32])),
                    months => coalesce(@months::boolean[], array_fill(false, ARRAY[12])))] ELSE '{}'::text[] END, '{}'),
          every => @every::interval, at => @at::timestamptz, timezone => coalesce(@timezone::text, 'UTC'),
          start_at => @start_at::timestamptz, end_at => @end_at::timestamptz,
          exceptions => coalesce(@exceptions::jsonb, '[]'), database => @database::text,
          run_as => coalesce(@run_as::name, current_user), timeout => @timeout::interval, retries => coalesce(@retries::integer, 0),
          description => @description::text, options => coalesce(@options::jsonb, '{}'), enabled => coalesce(@enabled::boolean, true)) AS d) s;

-- name: declareSteps
-- The steps of a declared multi-step job, through set_steps (its checks).
SELECT {{schema}}.set_steps(@job_name::text, @steps::jsonb) AS steps;
