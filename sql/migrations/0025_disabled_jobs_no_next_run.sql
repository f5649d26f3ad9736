-- Kairos schema, version 25: a disabled job has no next run.
--
-- Why: seed 000's rule is "disabled → next_run NULL; enabling computes it again", and users read
-- next_run as "when will this fire". Disabling kept it on every path (toggle_job(…, false), the
-- TypeScript disable(), a job disabling itself after max_attempts consecutive failures, a tenant's
-- own UPDATE), and `kairos jobs show` printed a next run for a job that would never fire (issue
-- #14, item 10). One owner for the rule: a trigger on jobs clears next_run whenever a row is, or
-- becomes, disabled, whichever statement wrote it; and one that enables a job without a next run
-- hands it to the ticker to plan from now. Enabling already plans from now (TypeScript
-- setEnabled, toggle_job); toggle_job's interval case now anchors a job without schedule_time at
-- its creation, as the TypeScript planner does (it computed NULL, and the job never fired again).
-- Safety: a row trigger that only assigns NEW.next_run (no privileges needed, so tenants' own
-- writes pass as before); existing disabled rows get next_run NULL, one UPDATE per disabled job
-- (jobs holds definitions: small), a row a constraint refuses being left with a NOTICE.
-- Forward-only, in one transaction.

CREATE FUNCTION {{schema}}.clear_disabled_next_run() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.next_run := NULL;
  RETURN NEW;
END $$;

-- Named to fire after jobs_unbreak (BEFORE triggers fire in name order): clearing next_run is
-- bookkeeping, not a new definition, and must not lift a quarantine (a plain disable keeps it).
CREATE TRIGGER jobs_z_disabled_no_next_run BEFORE INSERT OR UPDATE OF enabled, next_run ON {{schema}}.jobs
  FOR EACH ROW WHEN (NOT NEW.enabled AND NEW.next_run IS NOT NULL) EXECUTE FUNCTION {{schema}}.clear_disabled_next_run();

-- The other half of the rule: a statement that enables a job without planning it (a direct
-- UPDATE, elephant_worker's update_job, pg_cron's alter_job) leaves it for the ticker to plan from
-- now (planned = false), as toggle_job does for cron jobs; otherwise it would be enabled with no
-- next run and never fire.
CREATE FUNCTION {{schema}}.plan_enabled_job() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.planned := false;
  RETURN NEW;
END $$;

CREATE TRIGGER jobs_z_enabled_plans BEFORE UPDATE OF enabled ON {{schema}}.jobs
  FOR EACH ROW WHEN (NEW.enabled AND NOT OLD.enabled AND NEW.next_run IS NULL AND NEW.schedule_kind <> 'manual')
  EXECUTE FUNCTION {{schema}}.plan_enabled_job();

-- Row by row, quarantined rows left alone (an update of their next_run would lift the mark): a row
-- a constraint refuses keeps its value with a NOTICE rather than failing the upgrade; it is
-- disabled, so the ticker does not read its next_run.
DO $$
DECLARE
  id integer;
BEGIN
  FOR id IN SELECT job_id FROM {{schema}}.jobs WHERE NOT enabled AND next_run IS NOT NULL AND broken_at IS NULL LOOP
    BEGIN
      UPDATE {{schema}}.jobs SET next_run = NULL WHERE job_id = id;
    EXCEPTION WHEN check_violation OR not_null_violation THEN
      RAISE NOTICE 'kairos: disabled job % keeps its next_run: %', id, SQLERRM;
    END;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.toggle_job(p_name text, p_enabled boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_enabled IS NULL THEN PERFORM {{schema}}.api_fail('enabled must be true or false, got NULL'); END IF;
  UPDATE {{schema}}.jobs j
     SET enabled = p_enabled, updated_at = now(),
         current_attempts = CASE WHEN p_enabled THEN 0 ELSE j.current_attempts END,
         next_run = CASE
           WHEN NOT p_enabled THEN NULL
           WHEN j.schedule_kind = 'interval'
             THEN {{schema}}.interval_next(coalesce(j.schedule_time, j.created_at), j.schedule_interval, now() - interval '1 microsecond')
           WHEN j.schedule_kind = 'once' THEN CASE WHEN j.run_count > 0 THEN NULL ELSE j.schedule_time END
           ELSE NULL END,
         planned = CASE WHEN p_enabled THEN j.schedule_kind IN ('interval', 'once', 'manual') ELSE j.planned END
   WHERE j.job_name = p_name;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job named %L', p_name), 'P0002'); END IF;
END $$;
