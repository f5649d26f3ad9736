-- Named queries of the web dashboard (src/dashboard/). Read-only: every write the dashboard makes
-- goes through the SQL API functions (define_job, toggle_job, trigger_job, cancel_run, …), so the
-- same validation and row-level security apply as in psql. All of these run as the dashboard
-- user's role when one is configured (SET LOCAL ROLE), so RLS filters what each user sees.

-- name: dashSummary
-- The overview's numbers.
-- Not null: jobs, enabled, running, queued, scheduled, completed_1h, failed_1h, live_nodes, db_now
SELECT (SELECT count(*) FROM {{schema}}.jobs)::int AS jobs,
       (SELECT count(*) FROM {{schema}}.jobs WHERE enabled)::int AS enabled,
       (SELECT count(*) FROM {{schema}}.runs WHERE status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs WHERE status = 'pending' AND run_at <= now())::int AS queued,
       (SELECT count(*) FROM {{schema}}.runs WHERE status = 'pending' AND run_at > now())::int AS scheduled,
       (SELECT count(*) FROM {{schema}}.job_logs WHERE finished_at > now() - interval '1 hour' AND status = 'completed')::int AS completed_1h,
       (SELECT count(*) FROM {{schema}}.job_logs WHERE finished_at > now() - interval '1 hour' AND status IN ('failed', 'expired'))::int AS failed_1h,
       (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM duration) * 1000)
          FROM {{schema}}.job_logs WHERE finished_at > now() - interval '1 hour' AND duration IS NOT NULL) AS p95_ms_1h,
       (SELECT count(*) FROM {{schema}}.nodes WHERE stopped_at IS NULL AND last_heartbeat > now() - interval '1 minute')::int AS live_nodes,
       now() AS db_now;

-- name: dashPerMinute
-- Finished attempts of the last @minutes minutes, per minute and status, with each minute's p95 duration
-- (null: no attempt of that minute recorded a duration).
-- Not null: minute, completed, failed, retrying, other
SELECT date_trunc('minute', finished_at) AS minute,
       count(*) FILTER (WHERE status = 'completed')::int AS completed,
       count(*) FILTER (WHERE status IN ('failed', 'expired'))::int AS failed,
       count(*) FILTER (WHERE status = 'retrying')::int AS retrying,
       count(*) FILTER (WHERE status IN ('cancelled', 'rescued', 'released'))::int AS other,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM duration) * 1000) AS p95_ms
  FROM {{schema}}.job_logs
 WHERE finished_at > date_trunc('minute', now()) - (@minutes::int - 1) * interval '1 minute'
 GROUP BY 1 ORDER BY 1;

-- name: dashQueueDepth
-- The live queue right now (sampled by the dashboard for its queue-depth chart).
-- Not null: queued, running, at
SELECT count(*) FILTER (WHERE status = 'pending' AND run_at <= now())::int AS queued,
       count(*) FILTER (WHERE status = 'running')::int AS running,
       now() AS at
  FROM {{schema}}.runs;

-- name: dashJobs
-- The jobs page: @search (in the name or description), @status (enabled | disabled | failing | broken),
-- @owner, @queue, @tag (a label), each null for any: a page of @limit jobs from @offset. With each job: success
-- rate over its last 50 attempts (the lateral aggregate always yields one row), the durations of its
-- last 20 (oldest first, for the sparkline; null when none) and its live runs.
-- Not null: attempts, succeeded, running, pending
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms, s.attempts, s.succeeded, s.durations,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'pending')::int AS pending
  FROM {{schema}}.jobs j
  LEFT JOIN LATERAL (
    SELECT count(*)::int AS attempts, count(*) FILTER (WHERE l.status = 'completed')::int AS succeeded,
           array_agg(round(extract(epoch FROM l.duration) * 1000)::float8 ORDER BY l.log_id)
             FILTER (WHERE l.duration IS NOT NULL AND l.rn <= 20) AS durations
      FROM (SELECT x.log_id, x.status, x.duration, row_number() OVER (ORDER BY x.log_id DESC) AS rn
              FROM {{schema}}.job_logs x
             WHERE x.job_id = j.job_id AND x.status IN ('completed', 'failed', 'retrying', 'expired')
             ORDER BY x.log_id DESC LIMIT 50) l
  ) s ON true
 WHERE (@search::text IS NULL OR strpos(lower(j.job_name), lower(@search)) > 0 OR strpos(lower(coalesce(j.description, '')), lower(@search)) > 0)
   AND (@status::text IS NULL OR (@status = 'enabled' AND j.enabled) OR (@status = 'disabled' AND NOT j.enabled)
        OR (@status = 'failing' AND j.last_status IS FALSE) OR (@status = 'broken' AND j.broken_at IS NOT NULL))
   AND (@owner::text IS NULL OR j.owner = @owner) AND (@queue::text IS NULL OR j.queue = @queue)
   AND (@tag::text IS NULL OR @tag = ANY (j.labels))
 ORDER BY j.job_name LIMIT @limit OFFSET @offset;

-- name: dashJobCount
-- How many jobs dashJobs selects for the same filters (for its pages).
-- Not null: total
SELECT count(*)::int AS total FROM {{schema}}.jobs j
 WHERE (@search::text IS NULL OR strpos(lower(j.job_name), lower(@search)) > 0 OR strpos(lower(coalesce(j.description, '')), lower(@search)) > 0)
   AND (@status::text IS NULL OR (@status = 'enabled' AND j.enabled) OR (@status = 'disabled' AND NOT j.enabled)
        OR (@status = 'failing' AND j.last_status IS FALSE) OR (@status = 'broken' AND j.broken_at IS NOT NULL))
   AND (@owner::text IS NULL OR j.owner = @owner) AND (@queue::text IS NULL OR j.queue = @queue)
   AND (@tag::text IS NULL OR @tag = ANY (j.labels));

-- name: dashFacets
-- The values the jobs filters offer.
-- Not null: owners, queues, tags
SELECT (SELECT coalesce(array_agg(DISTINCT owner::text ORDER BY owner::text), '{}') FROM {{schema}}.jobs) AS owners,
       (SELECT coalesce(array_agg(DISTINCT queue ORDER BY queue), '{}') FROM {{schema}}.jobs) AS queues,
       (SELECT coalesce(array_agg(DISTINCT l ORDER BY l), '{}') FROM {{schema}}.jobs, unnest(labels) AS l) AS tags;

-- name: dashJob
-- One job by id with its live run counts.
-- Not null: running, pending
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'pending')::int AS pending
  FROM {{schema}}.jobs j WHERE j.job_id = @job_id;

-- name: dashSteps
-- A job's steps in order.
SELECT * FROM {{schema}}.job_steps WHERE job_id = @job_id ORDER BY position;

-- name: dashJobHistory
-- A job's last @limit attempts, newest first, with the steps each one ran (a JSON array).
-- Not null: steps
SELECT l.*,
       -- float8: extract() is numeric since PostgreSQL 14, which node-pg reads as a string unless
       -- told otherwise, and the History table showed "—" for every duration (issue #14).
       extract(epoch FROM l.duration)::float8 * 1000 AS duration_ms,
       (SELECT coalesce(json_agg(json_build_object('name', s.name, 'status', s.status, 'message', s.message,
                                                   'ms', extract(epoch FROM s.duration) * 1000) ORDER BY s.position), '[]')
          FROM {{schema}}.step_logs s WHERE s.run_id = l.run_id AND s.attempt = l.attempt) AS steps
  FROM {{schema}}.job_logs l WHERE l.job_id = @job_id ORDER BY l.log_id DESC LIMIT @limit;

-- name: dashRecentFailures
-- The latest @limit failed attempts (with what a retry needs; job_name: null for a plain task) whose
-- job name or task contains @search (null: any), skipping the first @offset.
SELECT l.log_id, l.run_id, l.job_id, l.task, l.queue, l.attempt, l.status, l.finished_at, l.message, l.node_id,
       l.payload, j.job_name
  FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id
 WHERE l.status IN ('failed', 'expired')
   AND (@search::text IS NULL OR strpos(lower(coalesce(j.job_name, l.task)), lower(@search)) > 0)
 ORDER BY l.log_id DESC LIMIT @limit OFFSET @offset;

-- name: dashFailureCount
-- How many failed attempts dashRecentFailures selects for @search (null: any).
-- Not null: total
SELECT count(*)::int AS total
  FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id
 WHERE l.status IN ('failed', 'expired')
   AND (@search::text IS NULL OR strpos(lower(coalesce(j.job_name, l.task)), lower(@search)) > 0);

-- name: dashRunList
-- The runs page's live runs whose job name or task contains @search and whose status is @status
-- (running | pending; null: any), running first then by due time: a page of @limit from @offset.
SELECT r.run_id, r.job_id, r.task, r.job_type, r.queue, r.priority, r.status, r.run_at, r.scheduled_at, r.attempt,
       r.max_retries, r.node_id, r.started_at, r.cancel_requested, r.last_error, r.owner, j.job_name
  FROM {{schema}}.runs r LEFT JOIN {{schema}}.jobs j ON j.job_id = r.job_id
 WHERE (@search::text IS NULL OR strpos(lower(coalesce(j.job_name, r.task)), lower(@search)) > 0)
   AND (@status::text IS NULL OR r.status = @status)
 ORDER BY r.status = 'running' DESC, r.run_at, r.run_id LIMIT @limit OFFSET @offset;

-- name: dashRunCount
-- How many live runs dashRunList selects for @search and @status (bulk cancel checks this count).
-- Not null: total
SELECT count(*)::int AS total
  FROM {{schema}}.runs r LEFT JOIN {{schema}}.jobs j ON j.job_id = r.job_id
 WHERE (@search::text IS NULL OR strpos(lower(coalesce(j.job_name, r.task)), lower(@search)) > 0)
   AND (@status::text IS NULL OR r.status = @status);

-- name: dashRun
-- One run for its page: the live row when it is still queued or running (live: true), else what its
-- latest attempt record says, with its job's name (null for a plain task or a deleted job).
-- Not null: live, run_id, task, queue, status
SELECT true AS live, r.run_id, r.job_id, r.task, r.queue, r.status, r.attempt, r.max_retries, r.run_at, r.scheduled_at,
       r.started_at, r.node_id, r.cancel_requested, r.last_error, r.payload, j.job_name
  FROM {{schema}}.runs r LEFT JOIN {{schema}}.jobs j ON j.job_id = r.job_id WHERE r.run_id = @run_id
UNION ALL
SELECT * FROM (
  SELECT false, l.run_id, l.job_id, l.task, l.queue, l.status, l.attempt, NULL::int, NULL::timestamptz, l.scheduled_at,
         l.run_time, l.node_id, false, l.message, l.payload, j.job_name
    FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id
   WHERE l.run_id = @run_id AND NOT EXISTS (SELECT 1 FROM {{schema}}.runs r WHERE r.run_id = @run_id)
   ORDER BY l.log_id DESC LIMIT 1) last;

-- name: dashRunAttempts
-- Every attempt record of a run, oldest first, with its diagnostics and the steps it ran (a JSON array).
-- Not null: steps
SELECT l.*, extract(epoch FROM l.duration)::float8 * 1000 AS duration_ms,
       (SELECT coalesce(json_agg(json_build_object('name', s.name, 'status', s.status, 'message', s.message,
                                                   'ms', extract(epoch FROM s.duration) * 1000, 'output', s.output) ORDER BY s.position), '[]')
          FROM {{schema}}.step_logs s WHERE s.run_id = l.run_id AND s.attempt = l.attempt) AS steps
  FROM {{schema}}.job_logs l WHERE l.run_id = @run_id ORDER BY l.log_id LIMIT 200;

-- name: dashLog
-- One attempt record (retrying it; job_name: null for a plain task).
SELECT l.*, j.job_name FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id WHERE l.log_id = @log_id;

-- name: dashNodes
-- Nodes seen in the last day, with what each runs now (a JSON array).
-- Not null: heartbeat_age_ms, running
SELECT n.node_id, n.name, n.host, n.pid, n.tags, n.queues, n.concurrency, n.version, n.started_at, n.last_heartbeat,
       n.stopped_at, extract(epoch FROM now() - n.last_heartbeat) * 1000 AS heartbeat_age_ms,
       (SELECT coalesce(json_agg(json_build_object('run', r.run_id, 'job', coalesce(j.job_name, r.task), 'since', r.started_at)
                                 ORDER BY r.started_at), '[]')
          FROM {{schema}}.runs r LEFT JOIN {{schema}}.jobs j ON j.job_id = r.job_id
         WHERE r.node_id = n.node_id AND r.status = 'running') AS running
  FROM {{schema}}.nodes n
 WHERE n.stopped_at IS NULL OR n.last_heartbeat > now() - interval '1 day'
 ORDER BY n.stopped_at IS NOT NULL, n.name, n.started_at DESC;

-- name: dashScheduled
-- Enabled jobs with a schedule (the calendar computes their next fires); broken ones do not fire.
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms
  FROM {{schema}}.jobs j WHERE j.enabled AND j.broken_at IS NULL AND j.schedule_kind IN ('cron', 'interval', 'once')
 ORDER BY j.job_name LIMIT 500;

-- name: dashStamp
-- A cheap fingerprint of what the pages show: the live-update stream pushes when it changes.
-- Not null: last_log, runs, running, jobs_at, jobs, nodes
SELECT (SELECT coalesce(max(log_id), 0) FROM {{schema}}.job_logs) AS last_log,
       (SELECT count(*) FROM {{schema}}.runs)::int AS runs,
       (SELECT count(*) FROM {{schema}}.runs WHERE status = 'running')::int AS running,
       (SELECT coalesce(max(updated_at), 'epoch') FROM {{schema}}.jobs) AS jobs_at,
       (SELECT count(*) FROM {{schema}}.jobs)::int AS jobs,
       (SELECT count(*) FROM {{schema}}.nodes WHERE stopped_at IS NULL)::int AS nodes;

-- name: dashDefineJob
-- Create or update a job from the dashboard's form, through the SQL API's define_job (which returns
-- the job or raises). The parameters are define_job's, durations in milliseconds (the *_ms ones);
-- a null run_as is the current user, null node_tags and options are none, a null max_lateness_ms a day.
-- Not null: job_id, job_name
SELECT job_id, job_name FROM {{schema}}.define_job(
  job_name => @job_name::text, command => @command::text, job_type => @job_type::text, cron => @cron::text[],
  every => @every_ms::bigint * interval '1 millisecond', at => @at::timestamptz, timezone => @timezone::text,
  start_at => @start_at::timestamptz, end_at => @end_at::timestamptz, max_runs => @max_runs::int, catch_up => @catch_up::text,
  misfire_grace => @misfire_grace_ms::bigint * interval '1 millisecond', overlap => @overlap::text, database => @database::text,
  run_as => coalesce(@run_as::name, current_user),
  timeout => @timeout_ms::bigint * interval '1 millisecond', retries => @retries::int, max_attempts => @max_attempts::int,
  exceptions => @exceptions::jsonb, labels => @labels::text[], description => @description::text, payload => @payload::jsonb,
  queue => @queue::text, priority => @priority::int, enabled => @enabled::boolean, node_name => @node_name::text,
  node_tags => coalesce(@node_tags::text[], '{}'), options => coalesce(@options::jsonb, '{}'),
  max_lateness => coalesce(@max_lateness_ms::bigint, 86400000) * interval '1 millisecond');

-- name: dashSetSteps
-- Replace a job's steps (a JSON array) through the SQL API's set_steps.
SELECT {{schema}}.set_steps(@job_name::text, @steps::jsonb) AS steps;

-- name: dashToggleJob
-- Enable or disable a job through the SQL API.
SELECT {{schema}}.toggle_job(@job_name::text, @enabled::boolean);

-- name: dashDeleteJob
-- Delete a job (by name) through the SQL API.
SELECT {{schema}}.delete_job(@job_name::text);

-- name: dashTriggerJob
-- Queue a run of a job now through the SQL API (a null payload: the job's own); it raises rather
-- than return null.
-- Not null: run_id
SELECT {{schema}}.trigger_job(@job_name::text, @payload::jsonb) AS run_id;

-- name: dashEnqueue
-- Queue a run of a plain task through the SQL API; it inserts (conflict 'raise') or raises.
-- Not null: run_id
SELECT {{schema}}.enqueue(task => @task::text, payload => @payload::jsonb, queue => @queue::text) AS run_id;

-- name: dashCancelRun
-- Cancel a run through the SQL API: 'cancelled' (it was pending) or 'cancelling' (its node stops it);
-- it raises when there is no such pending or running run.
-- Not null: outcome
SELECT {{schema}}.cancel_run(@run_id::bigint, @reason::text) AS outcome;

-- name: dashSetRole
-- Act as the dashboard user's role for the rest of the transaction (so RLS and grants apply).
SELECT set_config('role', @role::text, true);
