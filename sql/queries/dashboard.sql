-- Named queries of the web dashboard (src/dashboard/). Read-only: every write the dashboard makes
-- goes through the SQL API functions (define_job, toggle_job, trigger_job, cancel_run, …), so the
-- same validation and row-level security apply as in psql. All of these run as the dashboard
-- user's role when one is configured (SET LOCAL ROLE), so RLS filters what each user sees.

-- name: dashSummary
-- The overview's numbers.
SELECT (SELECT count(*) FROM {{schema}}.jobs)::int AS jobs,
       (SELECT count(*) FROM {{schema}}.jobs WHERE enabled)::int AS enabled,
       (SELECT count(*) FROM {{schema}}.runs WHERE status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs WHERE status = 'pending' AND run_at <= now())::int AS queued,
       (SELECT count(*) FROM {{schema}}.runs WHERE status = 'pending' AND run_at > now())::int AS scheduled,
       (SELECT count(*) FROM {{schema}}.job_logs WHERE finished_at > now() - interval '1 hour' AND status = 'completed')::int AS completed_1h,
       (SELECT count(*) FROM {{schema}}.job_logs WHERE finished_at > now() - interval '1 hour' AND status IN ('failed', 'retrying', 'expired'))::int AS failed_1h,
       (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM duration) * 1000)
          FROM {{schema}}.job_logs WHERE finished_at > now() - interval '1 hour' AND duration IS NOT NULL) AS p95_ms_1h,
       (SELECT count(*) FROM {{schema}}.nodes WHERE stopped_at IS NULL AND last_heartbeat > now() - interval '1 minute')::int AS live_nodes,
       now() AS db_now;

-- name: dashPerMinute
-- Finished attempts of the last $1 minutes, per minute and status, with each minute's p95 duration.
SELECT date_trunc('minute', finished_at) AS minute,
       count(*) FILTER (WHERE status = 'completed')::int AS completed,
       count(*) FILTER (WHERE status IN ('failed', 'expired'))::int AS failed,
       count(*) FILTER (WHERE status = 'retrying')::int AS retrying,
       count(*) FILTER (WHERE status IN ('cancelled', 'rescued', 'released'))::int AS other,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM duration) * 1000) AS p95_ms
  FROM {{schema}}.job_logs
 WHERE finished_at > date_trunc('minute', now()) - ($1::int - 1) * interval '1 minute'
 GROUP BY 1 ORDER BY 1;

-- name: dashQueueDepth
-- The live queue right now (sampled by the dashboard for its queue-depth chart).
SELECT count(*) FILTER (WHERE status = 'pending' AND run_at <= now())::int AS queued,
       count(*) FILTER (WHERE status = 'running')::int AS running,
       now() AS at
  FROM {{schema}}.runs;

-- name: dashJobs
-- The jobs page: $1 name search, $2 status (enabled | disabled | failing | broken), $3 owner, $4 queue,
-- $5 tag (label), $6 limit. With each job: success rate over its last 50 attempts, the durations of
-- its last 20 (oldest first, for the sparkline) and its live runs.
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
 WHERE ($1::text IS NULL OR strpos(lower(j.job_name), lower($1)) > 0 OR strpos(lower(coalesce(j.description, '')), lower($1)) > 0)
   AND ($2::text IS NULL OR ($2 = 'enabled' AND j.enabled) OR ($2 = 'disabled' AND NOT j.enabled)
        OR ($2 = 'failing' AND j.last_status IS FALSE) OR ($2 = 'broken' AND j.broken_at IS NOT NULL))
   AND ($3::text IS NULL OR j.owner = $3) AND ($4::text IS NULL OR j.queue = $4)
   AND ($5::text IS NULL OR $5 = ANY (j.labels))
 ORDER BY j.job_name LIMIT $6;

-- name: dashFacets
-- The values the jobs filters offer.
SELECT (SELECT coalesce(array_agg(DISTINCT owner::text ORDER BY owner::text), '{}') FROM {{schema}}.jobs) AS owners,
       (SELECT coalesce(array_agg(DISTINCT queue ORDER BY queue), '{}') FROM {{schema}}.jobs) AS queues,
       (SELECT coalesce(array_agg(DISTINCT l ORDER BY l), '{}') FROM {{schema}}.jobs, unnest(labels) AS l) AS tags;

-- name: dashJob
-- One job by id with its live run counts.
SELECT j.*, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'running')::int AS running,
       (SELECT count(*) FROM {{schema}}.runs r WHERE r.job_id = j.job_id AND r.status = 'pending')::int AS pending
  FROM {{schema}}.jobs j WHERE j.job_id = $1;

-- name: dashSteps
SELECT * FROM {{schema}}.job_steps WHERE job_id = $1 ORDER BY position;

-- name: dashJobHistory
-- A job's last $2 attempts, newest first, with the steps each one ran.
SELECT l.*, extract(epoch FROM l.duration) * 1000 AS duration_ms,
       (SELECT coalesce(json_agg(json_build_object('name', s.name, 'status', s.status, 'message', s.message,
                                                   'ms', extract(epoch FROM s.duration) * 1000) ORDER BY s.position), '[]')
          FROM {{schema}}.step_logs s WHERE s.run_id = l.run_id AND s.attempt = l.attempt) AS steps
  FROM {{schema}}.job_logs l WHERE l.job_id = $1 ORDER BY l.log_id DESC LIMIT $2;

-- name: dashLiveRuns
-- Running runs first, then queued ones by due time.
SELECT r.run_id, r.job_id, r.task, r.job_type, r.queue, r.priority, r.status, r.run_at, r.scheduled_at, r.attempt,
       r.max_retries, r.node_id, r.started_at, r.cancel_requested, r.last_error, r.owner, j.job_name,
       now() - r.started_at AS elapsed
  FROM {{schema}}.runs r LEFT JOIN {{schema}}.jobs j ON j.job_id = r.job_id
 ORDER BY r.status = 'running' DESC, r.run_at, r.run_id LIMIT $1;

-- name: dashRecentFailures
-- The latest failed attempts (with what a retry needs).
SELECT l.log_id, l.run_id, l.job_id, l.task, l.queue, l.attempt, l.status, l.finished_at, l.message, l.node_id,
       l.payload, j.job_name
  FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id
 WHERE l.status IN ('failed', 'expired') ORDER BY l.log_id DESC LIMIT $1;

-- name: dashLog
-- One attempt record (retrying it).
SELECT l.*, j.job_name FROM {{schema}}.job_logs l LEFT JOIN {{schema}}.jobs j ON j.job_id = l.job_id WHERE l.log_id = $1;

-- name: dashNodes
-- Nodes seen in the last day, with what each runs now.
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
SELECT (SELECT coalesce(max(log_id), 0) FROM {{schema}}.job_logs) AS last_log,
       (SELECT count(*) FROM {{schema}}.runs)::int AS runs,
       (SELECT count(*) FROM {{schema}}.runs WHERE status = 'running')::int AS running,
       (SELECT coalesce(max(updated_at), 'epoch') FROM {{schema}}.jobs) AS jobs_at,
       (SELECT count(*) FROM {{schema}}.jobs)::int AS jobs,
       (SELECT count(*) FROM {{schema}}.nodes WHERE stopped_at IS NULL)::int AS nodes;

-- name: dashDefineJob
-- Create or update a job from the dashboard's form, through the SQL API's define_job.
SELECT job_id, job_name FROM {{schema}}.define_job(
  job_name => $1, command => $2, job_type => $3, cron => $4::text[],
  every => $5::bigint * interval '1 millisecond', at => $6::timestamptz, timezone => $7,
  start_at => $8::timestamptz, end_at => $9::timestamptz, max_runs => $10::int, catch_up => $11,
  misfire_grace => $12::bigint * interval '1 millisecond', overlap => $13, database => $14, run_as => coalesce($15::name, current_user),
  timeout => $16::bigint * interval '1 millisecond', retries => $17::int, max_attempts => $18::int,
  exceptions => $19::jsonb, labels => $20::text[], description => $21, payload => $22::jsonb, queue => $23,
  priority => $24::int, enabled => $25::boolean, node_name => $26, node_tags => coalesce($27::text[], '{}'),
  options => coalesce($28::jsonb, '{}'), max_lateness => coalesce($29::bigint, 86400000) * interval '1 millisecond');

-- name: dashSetSteps
SELECT {{schema}}.set_steps($1, $2::jsonb) AS steps;

-- name: dashToggleJob
SELECT {{schema}}.toggle_job($1, $2);

-- name: dashDeleteJob
SELECT {{schema}}.delete_job($1::text);

-- name: dashTriggerJob
SELECT {{schema}}.trigger_job($1, $2::jsonb) AS run_id;

-- name: dashEnqueue
SELECT {{schema}}.enqueue(task => $1, payload => $2::jsonb, queue => $3) AS run_id;

-- name: dashCancelRun
SELECT {{schema}}.cancel_run($1::bigint, $2) AS outcome;

-- name: dashSetRole
-- Act as the dashboard user's role for the rest of the transaction (so RLS and grants apply).
SELECT set_config('role', $1, true);
