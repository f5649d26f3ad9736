-- Named queries of metrics, probes and alerts (src/observability).

-- name: metricsSnapshot
-- Scrape-time figures, one cheap statement: live runs by queue and status with the age of the
-- oldest due pending run (the runs table holds only live runs), and the nodes whose heartbeat is
-- younger than the lease (@lease_ms).
-- Not null: kind, n
SELECT 'queue' AS kind, r.queue AS name, r.status, count(*)::int AS n,
       extract(epoch FROM now() - min(r.run_at) FILTER (WHERE r.status = 'pending' AND r.run_at <= now()))::float8 AS oldest_due_s
  FROM {{schema}}.runs r
 GROUP BY r.queue, r.status
UNION ALL
SELECT 'nodes', NULL, NULL, count(*)::int, NULL
  FROM {{schema}}.nodes n
 WHERE n.stopped_at IS NULL AND n.last_heartbeat > now() - @lease_ms::bigint * interval '1 millisecond';

-- name: alertRules
-- The alert rules stored in SQL (add_alert), with the job name of per-job rules.
SELECT a.rule_id, a.channel, a.target, a.secret, a.events, a.late_after_ms, j.job_name
  FROM {{schema}}.alert_rules a LEFT JOIN {{schema}}.jobs j ON j.job_id = a.job_id
 ORDER BY a.rule_id;

-- name: alertNotify
-- An alert on a user's NOTIFY channel (@channel), JSON payload @payload.
SELECT pg_notify(@channel, @payload);
