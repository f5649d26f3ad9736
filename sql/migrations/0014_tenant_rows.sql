-- Kairos schema, version 14: every row a tenant writes is tied to a job (or run) it owns, and a
-- job names only a database its owner may connect to.
--
-- Why: 0002's policies checked only a row's `owner` column against the writer. A role granted
-- job_scheduler could insert a run naming another role's job_id with itself as owner (the agent
-- then ran that job as the job's owner), write job_logs rows on another role's job or run, insert
-- runs already "running" on a node, with an explicit run_id or another task's lock key, and aim
-- an alert rule at another role's job (issue #12, classes 4 and 5). And a role without CONNECT on
-- a database could define a job there: the agent connects with its own credentials (class 3).
--
-- Decision (docs/security.md): tenants keep direct DML where elephant_worker's model gives it
-- (jobs, job_steps, runs, the views), so the SQL API stays SECURITY INVOKER and runs with the
-- caller's identity, but (1) column grants limit what a tenant may set on runs to what the API
-- itself sets, and (2) policies WITH CHECK tie each row to a job, run or rule of its owner through
-- SECURITY DEFINER predicates that see past the tenant's own row-level security (another role's
-- run ids are invisible to the tenant, yet must not be reused). The agent also re-checks at run
-- time (a run whose owner does not own its job is refused; CONNECT is checked on the target).
--
-- Safety: no table is rewritten; only grants, policies and two row triggers change. The table
-- owner (the engine) bypasses row-level security, so the policies cost its statements nothing;
-- the triggers fire only when a job's or step's database or owner is written. Rows already
-- written are left as they are (the executor's run-time check covers them).

-- Does run (job_id, job_type, lock_key, owner) belong to a job of that owner, as the API would
-- write it? A run without a job is a task run: no lock key but the task's own (an exclusive
-- task's, as the TypeScript API sets it), never another task's.
CREATE FUNCTION {{schema}}.run_is_own(p_job integer, p_type text, p_task text, p_lock text, p_owner name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN p_job IS NULL THEN p_type = 'task' AND (p_lock IS NULL OR p_lock = p_task)
         ELSE EXISTS (SELECT 1 FROM {{schema}}.jobs j
                       WHERE j.job_id = p_job AND j.owner = p_owner AND j.job_type = p_type
                         AND j.lock_key IS NOT DISTINCT FROM p_lock) END
$$;

-- May a history row (job_id, run_id, owner) be written by a tenant? Its job is the owner's (or,
-- without a job, its run is the owner's task run), and no run or history row of another job or
-- owner carries that run id.
CREATE FUNCTION {{schema}}.log_is_own(p_job integer, p_run bigint, p_owner name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN p_job IS NOT NULL THEN EXISTS (SELECT 1 FROM {{schema}}.jobs j WHERE j.job_id = p_job AND j.owner = p_owner)
         ELSE EXISTS (SELECT 1 FROM {{schema}}.runs r WHERE r.run_id = p_run AND r.job_id IS NULL AND r.owner = p_owner) END
     AND NOT EXISTS (SELECT 1 FROM {{schema}}.runs r WHERE r.run_id = p_run AND (r.job_id IS DISTINCT FROM p_job OR r.owner <> p_owner))
     AND NOT EXISTS (SELECT 1 FROM {{schema}}.job_logs l WHERE l.run_id = p_run AND (l.job_id IS DISTINCT FROM p_job OR l.owner <> p_owner))
$$;

-- Refuse a job (or step) whose database does not exist or that its owner may not connect to.
-- One owner of the rule for every path: the SQL API, the TypeScript API, the dashboard, plain DML.
CREATE FUNCTION {{schema}}.check_job_database() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who name;
BEGIN
  IF NEW.database_name IS NULL THEN RETURN NEW; END IF;
  IF TG_TABLE_NAME = 'job_steps' THEN
    SELECT j.owner INTO who FROM {{schema}}.jobs j WHERE j.job_id = NEW.job_id;
  ELSE
    who := NEW.owner;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = NEW.database_name) THEN
    RAISE EXCEPTION 'database % does not exist', quote_ident(NEW.database_name) USING ERRCODE = '22023';
  END IF;
  IF who IS NOT NULL AND NOT has_database_privilege(who, NEW.database_name, 'CONNECT') THEN
    RAISE EXCEPTION 'role % may not connect to database %', quote_ident(who), quote_ident(NEW.database_name)
      USING ERRCODE = '42501', HINT = 'GRANT CONNECT ON DATABASE to the job''s owner, or run the job where it may connect';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER jobs_database BEFORE INSERT OR UPDATE OF database_name, owner ON {{schema}}.jobs
  FOR EACH ROW EXECUTE FUNCTION {{schema}}.check_job_database();
CREATE TRIGGER job_steps_database BEFORE INSERT OR UPDATE OF database_name ON {{schema}}.job_steps
  FOR EACH ROW EXECUTE FUNCTION {{schema}}.check_job_database();

-- Runs: what the API sets, nothing more (status, attempt, node, lease, run_id stay the engine's),
-- and tied to the owner's job.
DROP POLICY member_rows ON {{schema}}.runs;
CREATE POLICY member_rows ON {{schema}}.runs
  USING (pg_has_role(current_user, owner, 'MEMBER'))
  WITH CHECK (pg_has_role(current_user, owner, 'MEMBER') AND {{schema}}.run_is_own(job_id, job_type, task, lock_key, owner));

-- History: tied to the owner's job or task run, and never under a node's name (only the engine
-- records attempts of nodes; a tenant's rows are manual runs and cancellations).
DROP POLICY member_rows ON {{schema}}.job_logs;
CREATE POLICY member_rows ON {{schema}}.job_logs
  USING (pg_has_role(current_user, owner, 'MEMBER'))
  WITH CHECK (pg_has_role(current_user, owner, 'MEMBER') AND node_id IS NULL AND {{schema}}.log_is_own(job_id, run_id, owner));

-- Alert rules: a tenant's rule is per job, on a job of its owner (add_alert already refused global
-- rules to tenants, plain DML did not: a global rule hears every role's failures).
DROP POLICY member_rows ON {{schema}}.alert_rules;
CREATE POLICY member_rows ON {{schema}}.alert_rules
  USING (pg_has_role(current_user, owner, 'MEMBER'))
  WITH CHECK (pg_has_role(current_user, owner, 'MEMBER')
              AND EXISTS (SELECT 1 FROM {{schema}}.jobs j WHERE j.job_id = alert_rules.job_id AND j.owner = alert_rules.owner));

-- cancel_run_details must write a pending run's history row before the run leaves the queue, so
-- that the job_logs policy above can see whose run it was: 0017, which replaces that function anyway (for
-- the cancel reason), does so; it is not replaced twice.

DO $$
DECLARE
  s text := {{lit_schema}};
  who text := {{lit_role_scheduler}};
BEGIN
  EXECUTE format('REVOKE ALL ON FUNCTION %I.run_is_own(integer, text, text, text, name), %I.log_is_own(integer, bigint, name), %I.check_job_database() FROM PUBLIC', s, s, s);
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who) THEN RETURN; END IF;
  -- The policies call the predicates as the tenant.
  EXECUTE format('GRANT EXECUTE ON FUNCTION %I.run_is_own(integer, text, text, text, name), %I.log_is_own(integer, bigint, name) TO %I', s, s, who);
  EXECUTE format('REVOKE INSERT, UPDATE ON %I.runs FROM %I', s, who);
  EXECUTE format('GRANT INSERT (job_id, task, job_type, queue, priority, payload, key, run_at, expires_at, max_retries, backoff_ms,
                                backoff_max_ms, timeout_ms, lock_key, serial, owner, node_name, node_tags) ON %I.runs TO %I', s, who);
  -- enqueue(conflict => 'replace') changes a pending run's payload and timing; cancel_run flags.
  EXECUTE format('GRANT UPDATE (cancel_requested, payload, run_at, priority, queue, max_retries) ON %I.runs TO %I', s, who);
  -- Hand-off rows and the registry are the engine's alone.
  EXECUTE format('REVOKE ALL ON %I.handoffs FROM %I', s, who);
  EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %I.nodes, %I.settings, %I.migrations FROM %I', s, s, s, who);
END $$;
