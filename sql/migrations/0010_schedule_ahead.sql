-- Kairos schema, version 10: occurrences materialised ahead of their due time follow the job.
--
-- The ticker plans a schedule's occurrences up to `scheduleAhead` (500 ms by default) before they
-- are due, so that a timer claims the queued run on the due time itself. A run so made is pending
-- with scheduled_at in the future. When the job's definition changes before that time (disabled,
-- rescheduled, its command, payload or placement changed, or sent back to planning), the run
-- would fire as the job was, not as it is: this trigger drops those runs and their occurrences
-- and moves the job's cursor back to the first dropped one, so the ticker plans them again from
-- the new definition (or not at all, for a disabled job).
-- SECURITY DEFINER: a job_scheduler member who may change the job may not delete occurrences or
-- other roles' runs; the trigger only drops the rows of the job being updated, which the update
-- itself was allowed to touch. Fixed search_path, every name schema-qualified.
CREATE FUNCTION {{schema}}.unplan_ahead() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  first_dropped timestamptz;
  dropped integer;
BEGIN
  WITH gone AS (
    DELETE FROM {{schema}}.runs r
     WHERE r.job_id = OLD.job_id AND r.status = 'pending' AND r.attempt = 0
       AND r.scheduled_at > now() AND r.created_at < r.scheduled_at
    RETURNING r.scheduled_at
  ), occ AS (
    DELETE FROM {{schema}}.occurrences o USING gone g
     WHERE o.job_id = OLD.job_id AND o.scheduled_at = g.scheduled_at
    RETURNING o.scheduled_at
  )
  SELECT min(scheduled_at), count(*) INTO first_dropped, dropped FROM occ;
  IF dropped > 0 THEN
    NEW.run_count := greatest(0, NEW.run_count - dropped);
    -- A new cursor written by the same statement (a new schedule) wins over the old one.
    IF NEW.next_run IS NOT DISTINCT FROM OLD.next_run THEN
      NEW.next_run := least(NEW.next_run, first_dropped);
    END IF;
  END IF;
  RETURN NEW;
END $$;

-- The ticker's own updates (next_run, run_count, planned) and completions (last_*) do not match.
CREATE TRIGGER jobs_unplan_ahead BEFORE UPDATE ON {{schema}}.jobs FOR EACH ROW
  WHEN (ROW(OLD.enabled, OLD.job_type, OLD.command, OLD.schedule_kind, OLD.cron, OLD.timezone, OLD.schedule_interval,
            OLD.schedule_time, OLD.end_time, OLD.max_runs, OLD.overlap, OLD.payload, OLD.queue, OLD.priority,
            OLD.max_retries, OLD.backoff_ms, OLD.backoff_max_ms, OLD.timeout_ms, OLD.lock_key, OLD.owner,
            OLD.database_name, OLD.node_name, OLD.node_tags, OLD.exceptions, OLD.options, OLD.misfire_grace_ms)
        IS DISTINCT FROM
        ROW(NEW.enabled, NEW.job_type, NEW.command, NEW.schedule_kind, NEW.cron, NEW.timezone, NEW.schedule_interval,
            NEW.schedule_time, NEW.end_time, NEW.max_runs, NEW.overlap, NEW.payload, NEW.queue, NEW.priority,
            NEW.max_retries, NEW.backoff_ms, NEW.backoff_max_ms, NEW.timeout_ms, NEW.lock_key, NEW.owner,
            NEW.database_name, NEW.node_name, NEW.node_tags, NEW.exceptions, NEW.options, NEW.misfire_grace_ms)
        OR (OLD.planned AND NOT NEW.planned))
  EXECUTE FUNCTION {{schema}}.unplan_ahead();
REVOKE ALL ON FUNCTION {{schema}}.unplan_ahead() FROM PUBLIC;
