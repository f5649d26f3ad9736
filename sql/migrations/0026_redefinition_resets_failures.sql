-- Kairos schema, version 26: a new definition starts the failure count afresh.
--
-- Why: seed 000 zeroes a job's attempts when add_or_update_job changes it, and a user who fixes a
-- failing job's command expects it to get its full failure limit again. Kairos kept
-- current_attempts (consecutive failed attempts) across every redefinition, so a fixed job
-- disabled itself sooner (issue #14, item 9). One owner for the rule, whichever path writes the
-- definition (schedule(), define_job/store_job, add_or_update_job, update_job, alter_job, a
-- tenant's own UPDATE): a trigger resets the count when a column of the definition changes.
-- Bookkeeping (what the engine writes: next_run, run_count, planned, last_*, the count itself,
-- the quarantine mark, updated_at) and enabled (enabling resets the count already; disabling must
-- keep it for the operator to see) are not the definition. Re-declaring an unchanged definition
-- (replicas at start-up) keeps the count.
-- Safety: a row trigger, only for rows whose count is not zero (WHEN), that compares the row's
-- JSON without the bookkeeping columns; no data changes. Forward-only, in one transaction.

CREATE FUNCTION {{schema}}.reset_failures_on_redefinition() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bookkeeping text[] := ARRAY['next_run', 'run_count', 'planned', 'last_run', 'last_status', 'last_message',
                              'current_attempts', 'broken_at', 'broken_reason', 'updated_at', 'enabled'];
BEGIN
  IF (to_jsonb(NEW) - bookkeeping) IS DISTINCT FROM (to_jsonb(OLD) - bookkeeping) THEN
    NEW.current_attempts := 0;
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION {{schema}}.reset_failures_on_redefinition() FROM PUBLIC;

CREATE TRIGGER jobs_z_redefined_resets_failures BEFORE UPDATE ON {{schema}}.jobs
  FOR EACH ROW WHEN (OLD.current_attempts <> 0 AND NEW.current_attempts = OLD.current_attempts)
  EXECUTE FUNCTION {{schema}}.reset_failures_on_redefinition();
