-- Kairos schema, version 27: a SQL job's history keeps PostgreSQL's diagnostics; execute_job runs
-- a job only in the database it is defined for.
--
-- Why: seed 003 (elephant_worker) records job_sqlstate, message, detail, hint and context per run
-- ('00000' for a success); Kairos kept only the message (issue #14, item 11). job_logs gets the
-- columns sqlstate, detail, hint and context: NULL for task jobs, '00000' for a successful SQL
-- attempt, PostgreSQL's fields for a failed one. The agent's SQL executor hands them over in the
-- attempt's output (key "diagnostics"); one trigger lifts them into the columns for every path
-- that records a SQL attempt (completeRuns, failRuns), so no history query repeats the rule;
-- execute_job, which runs the job in the caller's session, reads them with GET STACKED
-- DIAGNOSTICS. The owner views my_job_log and member_job_log show them (same row filters, still
-- security_barrier).
-- execute_job of a SQL job defined for another database (or a named connection) ran its command
-- in the caller's database (issue #14, item 13): a session cannot switch databases, so it now
-- refuses (0A000) and changes nothing; trigger_job has the agent run it where it belongs.
-- Safety: the trigger fires only for rows of SQL runs (WHEN). ADD COLUMN without a default on the partitioned parent is a catalog change only,
-- cascaded to every partition (no rewrite, brief lock). The views are replaced with their columns
-- in the same order and the new ones at the end (CREATE OR REPLACE VIEW; grants are kept).
-- Forward-only, in one transaction.

ALTER TABLE {{schema}}.job_logs
  ADD COLUMN sqlstate text,
  ADD COLUMN detail text,
  ADD COLUMN hint text,
  ADD COLUMN context text;

-- A SQL run's history row (task '@sql'): the diagnostics the executor put in the output become
-- columns (and leave the output); a completed attempt without them succeeded: 00000.
CREATE FUNCTION {{schema}}.job_logs_sql_diagnostics() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d jsonb := CASE WHEN jsonb_typeof(NEW.output -> 'diagnostics') = 'object' THEN NEW.output -> 'diagnostics' END;
BEGIN
  NEW.sqlstate := coalesce(d ->> 'sqlstate', CASE WHEN NEW.status = 'completed' THEN '00000' END);
  NEW.detail := coalesce(NEW.detail, d ->> 'detail');
  NEW.hint := coalesce(NEW.hint, d ->> 'hint');
  NEW.context := coalesce(NEW.context, d ->> 'context');
  IF d IS NOT NULL THEN NEW.output := NEW.output - 'diagnostics'; END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION {{schema}}.job_logs_sql_diagnostics() FROM PUBLIC;

-- On the partitioned parent: cloned to every partition, today's and those created later.
CREATE TRIGGER job_logs_sql_diagnostics BEFORE INSERT ON {{schema}}.job_logs
  FOR EACH ROW WHEN (NEW.task = '@sql' AND NEW.sqlstate IS NULL) EXECUTE FUNCTION {{schema}}.job_logs_sql_diagnostics();

COMMENT ON COLUMN {{schema}}.job_logs.sqlstate IS 'SQL jobs: PostgreSQL''s SQLSTATE of the attempt (00000 on success); NULL for other job types';

CREATE OR REPLACE VIEW {{schema}}.member_job_log WITH (security_barrier=true) AS
 SELECT log_id, job_id, run_id, task, queue, key, attempt, status, scheduled_at, run_time, finished_at, duration,
        message, node_id, payload, output, owner, sqlstate, detail, hint, context
   FROM {{schema}}.job_logs
  WHERE pg_has_role(CURRENT_USER, owner, 'MEMBER'::text);

CREATE OR REPLACE VIEW {{schema}}.my_job_log WITH (security_barrier=true) AS
 SELECT log_id, job_id, run_id, task, queue, key, attempt, status, scheduled_at, run_time, finished_at, duration,
        message, node_id, payload, output, owner, sqlstate, detail, hint, context
   FROM {{schema}}.job_logs
  WHERE owner = CURRENT_USER;

CREATE OR REPLACE FUNCTION {{schema}}.execute_job(target_job_id integer)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
  j {{schema}}.jobs;
  started timestamptz := clock_timestamp();
  ok boolean;
  msg text;
  state text;
  err_detail text;
  err_hint text;
  err_context text;
BEGIN
  SELECT * INTO j FROM {{schema}}.jobs WHERE job_id = target_job_id;
  IF NOT FOUND THEN PERFORM {{schema}}.api_fail(format('no job with id %s', target_job_id), 'P0002'); END IF;
  -- The caller's session cannot switch databases (nor reach a named connection): refuse before
  -- anything runs or is recorded.
  IF j.job_type = 'sql' AND j.options ->> 'connection' IS NOT NULL THEN
    PERFORM {{schema}}.api_fail(format('job %s runs on connection %L; execute_job runs a job in the calling session''s database (%s): use trigger_job(%s) to have the agent run it there',
                                       j.job_name, j.options ->> 'connection', current_database(), j.job_id), '0A000');
  END IF;
  IF j.job_type = 'sql' AND j.database_name IS NOT NULL AND j.database_name <> current_database() THEN
    PERFORM {{schema}}.api_fail(format('job %s runs in database %s; execute_job runs a job in the calling session''s database (%s): use trigger_job(%s) to have the agent run it there',
                                       j.job_name, j.database_name, current_database(), j.job_id), '0A000');
  END IF;
  BEGIN
    IF j.job_type = 'sql' THEN
      EXECUTE j.command;
    ELSIF j.job_type = 'shell' THEN
      PERFORM {{schema}}.api_check_shell(j.owner);
      EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', j.command);
    ELSE
      PERFORM {{schema}}.api_fail(format('execute_job runs sql and shell jobs; use trigger_job for %s jobs', j.job_type));
    END IF;
    ok := true;
    msg := 'Success';
    state := '00000';
  EXCEPTION WHEN OTHERS THEN
    ok := false;
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL,
                            err_hint = PG_EXCEPTION_HINT, err_context = PG_EXCEPTION_CONTEXT;
  END;
  INSERT INTO {{schema}}.job_logs (job_id, run_id, task, queue, attempt, status, run_time, finished_at, duration, message, owner,
                                   sqlstate, detail, hint, context)
  VALUES (j.job_id, nextval(pg_get_serial_sequence('{{schema}}.runs', 'run_id')), '@' || j.job_type, j.queue, 1,
          CASE WHEN ok THEN 'completed' ELSE 'failed' END, started, clock_timestamp(), clock_timestamp() - started, msg, j.owner,
          CASE WHEN j.job_type = 'sql' THEN state END, nullif(err_detail, ''), nullif(err_hint, ''), nullif(err_context, ''));
  UPDATE {{schema}}.jobs
     SET last_run = started, last_status = ok, last_message = CASE WHEN ok THEN NULL ELSE msg END,
         current_attempts = CASE WHEN ok THEN 0 ELSE current_attempts + 1 END,
         enabled = enabled AND (ok OR max_attempts IS NULL OR current_attempts + 1 < max_attempts)
   WHERE job_id = j.job_id;
END $function$;
