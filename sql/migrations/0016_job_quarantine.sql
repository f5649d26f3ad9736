-- Kairos schema, version 16: malformed job rows are quarantined instead of stopping every ticker.
--
-- Why: tenants granted job_scheduler may INSERT and UPDATE their own rows of `jobs` (row-level
-- security, as in elephant_worker), so a row can hold values the API refuses. One such row
-- (next_run '-infinity', misfire_grace_ms or run_count at their type's maximum) made the ticker's
-- batch fail on every pass, and every other role's schedules stopped until it was deleted (issue
-- #12, class 6). Now:
--   * broken_at / broken_reason mark a job the ticker could not plan (src/engine/ticker.ts isolates
--     the row, quarantines it with the reason, logs and alerts). The due, lock and next-due queries
--     and the wake-up NOTIFY leave broken jobs out, so a broken row can neither fail a pass nor
--     make the ticker spin;
--   * a new definition lifts the quarantine (trigger jobs_unbreak): every API call that writes a
--     definition or enables a job sets updated_at; the ticker then checks the row again;
--   * constraints refuse the most obvious bad values at write time. They are waived while a row is
--     broken, so that the quarantine itself can always be written and only a definition within
--     them can lift it. Rows written before this migration that they refuse are quarantined here
--     (an UPDATE of such a row, e.g. the completer recording a run of it in a batch with other
--     jobs' runs, would otherwise fail on them); the constraints are then validated;
--   * alert rules take the event `broken`.
-- Safety: two nullable columns (no table rewrite); the two partial indexes of the ticker are
-- rebuilt with the extra condition, and the constraints validated by a scan (jobs holds
-- definitions, not runs: small). A row that cannot even be quarantined (a constraint of another
-- migration refuses its update) gets a NOTICE and leaves its constraint NOT VALID rather than
-- failing the upgrade; the ticker then skips it. Nothing is dropped but the alert_rules events
-- check, replaced by a wider one, and the indexes, re-created at once. Forward-only, in one
-- transaction.

ALTER TABLE {{schema}}.jobs
  ADD COLUMN broken_at     timestamptz,
  ADD COLUMN broken_reason text,
  ADD CONSTRAINT jobs_broken_reason CHECK ((broken_at IS NULL) = (broken_reason IS NULL) AND length(broken_reason) <= 2000);

COMMENT ON COLUMN {{schema}}.jobs.broken_at IS
  'When the ticker quarantined the job (a malformed row it could not plan); NULL when healthy. Lifted by a new definition or by enabling the job.';
COMMENT ON COLUMN {{schema}}.jobs.broken_reason IS 'Why the job is quarantined (the column and value, or the database''s refusal of its plan).';

-- Rows already there that the constraints below refuse: quarantined, the reason naming the values
-- (the same wording as src/core/job-checks.ts). One row at a time, so that a row whose update
-- another constraint refuses does not fail the upgrade.
DO $$
DECLARE
  j record;
  reason text;
BEGIN
  FOR j IN SELECT * FROM {{schema}}.jobs
            WHERE NOT (next_run IS NULL OR isfinite(next_run)) OR NOT (schedule_time IS NULL OR isfinite(schedule_time))
               OR NOT (end_time IS NULL OR isfinite(end_time))
               OR NOT (schedule_interval IS NULL OR (isfinite(schedule_interval) AND schedule_interval >= interval '1 second'
                       AND extract(epoch FROM schedule_interval) * 1000 <= 9007199254740991))
               OR max_lateness_ms > 9007199254740991 OR misfire_grace_ms > 9007199254740991
               OR run_count NOT BETWEEN 0 AND 2146483647 LOOP
    reason := concat_ws('; ',
      CASE WHEN NOT isfinite(j.next_run) THEN format('next_run %s is not a time between the years 1 and 9999', j.next_run) END,
      CASE WHEN NOT isfinite(j.schedule_time) THEN format('schedule_time %s is not a time between the years 1 and 9999', j.schedule_time) END,
      CASE WHEN NOT isfinite(j.end_time) THEN format('end_time %s is not a time between the years 1 and 9999', j.end_time) END,
      CASE WHEN NOT (isfinite(j.schedule_interval) AND j.schedule_interval >= interval '1 second'
                     AND extract(epoch FROM j.schedule_interval) * 1000 <= 9007199254740991)
           THEN format('schedule_interval %s is not from 1 second to 9007199254740991 milliseconds', j.schedule_interval) END,
      CASE WHEN j.max_lateness_ms > 9007199254740991 THEN format('max_lateness_ms %s is over 9007199254740991', j.max_lateness_ms) END,
      CASE WHEN j.misfire_grace_ms > 9007199254740991 THEN format('misfire_grace_ms %s is over 9007199254740991', j.misfire_grace_ms) END,
      CASE WHEN j.run_count NOT BETWEEN 0 AND 2146483647 THEN format('run_count %s is not from 0 to 2146483647', j.run_count) END)
      || ' (found by migration 0016)';
    BEGIN
      UPDATE {{schema}}.jobs SET broken_at = now(), broken_reason = left(reason, 2000) WHERE job_id = j.job_id AND broken_at IS NULL;
    EXCEPTION WHEN integrity_constraint_violation OR data_exception THEN
      RAISE NOTICE 'kairos: job % holds values migration 0016 refuses (%) and could not be quarantined: %', j.job_name, reason, SQLERRM;
    END;
  END LOOP;
END $$;

-- What the TypeScript and SQL APIs write always passes these: times within PostgreSQL's finite
-- range, intervals of 1 second to what JavaScript holds exactly (2^53 - 1 ms, as for the policy
-- durations), and a run count a million below the integer limit (a ticker pass adds its fires).
ALTER TABLE {{schema}}.jobs
  ADD CONSTRAINT jobs_times_finite CHECK (broken_at IS NOT NULL OR (
    (next_run IS NULL OR isfinite(next_run)) AND (schedule_time IS NULL OR isfinite(schedule_time))
    AND (end_time IS NULL OR isfinite(end_time)))) NOT VALID,
  ADD CONSTRAINT jobs_interval_in_range CHECK (broken_at IS NOT NULL OR schedule_interval IS NULL OR (
    isfinite(schedule_interval) AND schedule_interval >= interval '1 second'
    AND extract(epoch FROM schedule_interval) * 1000 <= 9007199254740991)) NOT VALID,
  ADD CONSTRAINT jobs_policies_in_range CHECK (broken_at IS NOT NULL OR (
    max_lateness_ms <= 9007199254740991 AND (misfire_grace_ms IS NULL OR misfire_grace_ms <= 9007199254740991))) NOT VALID,
  ADD CONSTRAINT jobs_run_count_in_range CHECK (broken_at IS NOT NULL OR run_count BETWEEN 0 AND 2146483647) NOT VALID;
DO $$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY['jobs_times_finite', 'jobs_interval_in_range', 'jobs_policies_in_range', 'jobs_run_count_in_range'] LOOP
    BEGIN
      EXECUTE format('ALTER TABLE %I.jobs VALIDATE CONSTRAINT %I', {{lit_schema}}, name);
    EXCEPTION WHEN check_violation THEN
      RAISE NOTICE 'kairos: constraint % left NOT VALID: a row could not be quarantined (see the notices above)', name;
    END;
  END LOOP;
END $$;

-- The ticker's indexes, without the broken jobs it never looks at.
DROP INDEX {{schema}}.jobs_due;
CREATE INDEX jobs_due ON {{schema}}.jobs (next_run) WHERE enabled AND next_run IS NOT NULL AND broken_at IS NULL;
DROP INDEX {{schema}}.jobs_unplanned;
CREATE INDEX jobs_unplanned ON {{schema}}.jobs (job_id) WHERE enabled AND NOT planned AND broken_at IS NULL;

-- Lift the quarantine when the definition changes (any column but the bookkeeping below,
-- including columns later migrations add), when the job is enabled, or when an API call writes
-- the definition of an enabled job (they all set updated_at; schedule() of the same definition
-- changes nothing else). The engine's own bookkeeping on a broken job (results of runs queued
-- before it broke, the failure count, a job disabling itself after failures) changes neither the
-- definition nor updated_at, and a plain disable keeps the mark and its reason. The ticker checks
-- the row again; a definition still outside the constraints above is refused by them.
CREATE FUNCTION {{schema}}.unbreak_job() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bookkeeping text[] := ARRAY['broken_at', 'broken_reason', 'updated_at', 'last_run', 'last_status', 'last_message',
                              'current_attempts', 'enabled'];
BEGIN
  IF (to_jsonb(NEW) - bookkeeping) IS DISTINCT FROM (to_jsonb(OLD) - bookkeeping)
     OR (NEW.enabled AND NOT OLD.enabled)
     OR (NEW.enabled AND NEW.updated_at IS DISTINCT FROM OLD.updated_at) THEN
    NEW.broken_at := NULL;
    NEW.broken_reason := NULL;
  END IF;
  RETURN NEW;
END $$;
-- Not when the statement sets or clears the quarantine itself (the ticker's own update).
CREATE TRIGGER jobs_unbreak BEFORE UPDATE ON {{schema}}.jobs FOR EACH ROW
  WHEN (OLD.broken_at IS NOT NULL AND NEW.broken_at IS NOT DISTINCT FROM OLD.broken_at)
  EXECUTE FUNCTION {{schema}}.unbreak_job();
REVOKE ALL ON FUNCTION {{schema}}.unbreak_job() FROM PUBLIC;

-- The wake-up NOTIFY of 0001, without broken jobs, and never with a time the nodes cannot read:
-- a cursor outside the years 1-9999 (a malformed row) asks for a pass at once instead, which
-- quarantines it.
CREATE OR REPLACE FUNCTION {{schema}}.notify_job_changes() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  earliest timestamptz;
  unplanned boolean;
BEGIN
  SELECT min(next_run) FILTER (WHERE enabled AND broken_at IS NULL
                                 AND next_run >= '0001-01-01 00:00:00+00' AND next_run < '10000-01-01 00:00:00+00'),
         coalesce(bool_or(enabled AND broken_at IS NULL AND (NOT planned OR next_run < '0001-01-01 00:00:00+00'
                                                             OR next_run >= '10000-01-01 00:00:00+00')), false)
    INTO earliest, unplanned FROM new_jobs;
  IF earliest IS NOT NULL OR unplanned THEN
    PERFORM pg_notify({{channel}}, json_build_object('t', 'jobs', 'at', earliest, 'plan', unplanned)::text);
  END IF;
  RETURN NULL;
END $$;

-- Alerts: the event `broken` (a job quarantined), in the table's check and in add_alert (0007),
-- whose default (every event) now includes it.
ALTER TABLE {{schema}}.alert_rules DROP CONSTRAINT alert_rules_events_check;
ALTER TABLE {{schema}}.alert_rules ADD CONSTRAINT alert_rules_events_check
  CHECK (cardinality(events) > 0 AND events <@ ARRAY['failed', 'disabled', 'late', 'expired', 'missed', 'broken']);

CREATE OR REPLACE FUNCTION {{schema}}.add_alert(channel text, target text DEFAULT NULL, job_name text DEFAULT NULL,
                                    events text[] DEFAULT ARRAY['failed', 'disabled', 'late', 'expired', 'missed', 'broken'],
                                    late_after interval DEFAULT '1 minute', secret text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  known text[] := ARRAY['failed', 'disabled', 'late', 'expired', 'missed', 'broken'];
  target_job integer;
  bad text;
  new_id integer;
BEGIN
  IF channel IS NULL OR NOT channel = ANY (ARRAY['webhook', 'notify', 'log']) THEN
    PERFORM {{schema}}.api_fail(format('channel must be one of webhook, notify, log, got %L', channel));
  END IF;
  IF channel = 'webhook' THEN
    IF target IS NULL OR target !~ '^https?://[^/\s?#@]+(/\S*)?$' OR length(target) > 2000 THEN
      PERFORM {{schema}}.api_fail(format('a webhook target must be an http:// or https:// URL without spaces, got %L', target));
    END IF;
    IF secret IS NULL OR length(secret) < 16 THEN
      PERFORM {{schema}}.api_fail('a webhook needs a secret of at least 16 characters to sign its requests (not shown)');
    END IF;
  ELSIF channel = 'notify' THEN
    IF target IS NULL OR target !~ '^[A-Za-z_][A-Za-z0-9_.:-]{0,62}$' THEN
      PERFORM {{schema}}.api_fail(format('a notify target must be a channel name of 1-63 letters, digits and _ . : - (not starting with a digit or symbol), got %L', target));
    END IF;
    IF target = 'kairos:' || {{lit_schema}} THEN
      PERFORM {{schema}}.api_fail(format('channel %L is Kairos''s own; choose another name', target));
    END IF;
  ELSIF target IS NOT NULL THEN
    PERFORM {{schema}}.api_fail(format('a log alert takes no target, got %L', target));
  END IF;
  IF channel <> 'webhook' AND secret IS NOT NULL THEN
    PERFORM {{schema}}.api_fail(format('only webhooks take a secret, not %s alerts', channel));
  END IF;
  IF events IS NULL OR cardinality(events) = 0 THEN
    PERFORM {{schema}}.api_fail('events must list at least one of failed, disabled, late, expired, missed, broken');
  END IF;
  SELECT e INTO bad FROM unnest(events) e WHERE e IS NULL OR NOT e = ANY (known) LIMIT 1;
  IF FOUND THEN
    PERFORM {{schema}}.api_fail(format('events must be among failed, disabled, late, expired, missed, broken, got %L', bad));
  END IF;
  IF late_after IS NULL OR late_after < interval '0' OR extract(month FROM late_after) <> 0 OR extract(year FROM late_after) <> 0 THEN
    PERFORM {{schema}}.api_fail(format('late_after must be a positive interval without months or years, got %L', late_after));
  END IF;
  IF job_name IS NULL THEN
    -- A global rule sees every job's failures, whoever owns them: only for the installation's owner.
    IF NOT pg_has_role(current_user, (SELECT nspowner FROM pg_namespace WHERE nspname = {{lit_schema}}), 'MEMBER') THEN
      PERFORM {{schema}}.api_fail(format('%I may not add a rule for every job (only the owner of the installation may); name a job', current_user), '42501');
    END IF;
  ELSE
    SELECT j.job_id INTO target_job FROM {{schema}}.jobs j WHERE j.job_name = add_alert.job_name;
    IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job named %L', job_name), 'P0002'); END IF;
  END IF;
  INSERT INTO {{schema}}.alert_rules (job_id, channel, target, secret, events, late_after_ms)
  VALUES (target_job, channel, target, secret, ARRAY(SELECT DISTINCT e FROM unnest(events) e ORDER BY e),
          (extract(epoch FROM late_after) * 1000)::bigint)
  RETURNING rule_id INTO new_id;
  RETURN new_id;
END $$;
