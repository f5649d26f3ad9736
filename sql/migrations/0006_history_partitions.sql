-- Kairos schema, version 6: the history in daily partitions, so that retention drops whole days
-- (DROP TABLE: no dead rows, no vacuum debt, constant cost) instead of deleting rows one by one.
--
-- job_logs is split by LIST (status) into one table per retention policy — job_logs_completed,
-- job_logs_failed (failed, expired, rescued, released, retrying) and job_logs_cancelled — each
-- split by RANGE (finished_at) into UTC days: <class>_YYYYMMDD, plus <class>_default for rows of a
-- day that has no partition yet. step_logs (one row per executed step, under its attempt) is
-- split the same way by finished_at. Rows already recorded are kept (copied, with their ids).
-- The primary keys include the partition keys, as PostgreSQL requires; ids still come from one
-- sequence per table, so log_id / step_log_id stay unique and increasing.
-- Partition maintenance (history_prepare, history_drop_expired, history_prune_default) is called
-- by the pruner under its advisory lock; each also takes a per-schema transaction lock.
-- Works on PostgreSQL 13+ (ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the parent since 12).

-- ---------------------------------------------------------------- set the old tables aside

-- Index and sequence names live in the schema's namespace: free them for the new tables.
DROP VIEW {{schema}}.my_job_log, {{schema}}.member_job_log;
ALTER TABLE {{schema}}.job_logs RENAME TO job_logs_old;
ALTER TABLE {{schema}}.job_logs_old DROP CONSTRAINT job_logs_pkey;
DROP INDEX {{schema}}.job_logs_run, {{schema}}.job_logs_job, {{schema}}.job_logs_finished;
ALTER TABLE {{schema}}.step_logs RENAME TO step_logs_old;
ALTER TABLE {{schema}}.step_logs_old DROP CONSTRAINT step_logs_pkey;
DROP INDEX {{schema}}.step_logs_run, {{schema}}.step_logs_job;

-- ---------------------------------------------------------------- the partitioned tables

-- A plain sequence, not an identity column: identity columns on partitioned tables only became
-- fully supported in PostgreSQL 17.
CREATE SEQUENCE {{schema}}.job_logs_log_seq AS bigint;
CREATE TABLE {{schema}}.job_logs (
  log_id       bigint NOT NULL DEFAULT nextval('{{schema}}.job_logs_log_seq'),
  job_id       integer REFERENCES {{schema}}.jobs (job_id) ON DELETE CASCADE,
  run_id       bigint NOT NULL,
  task         text NOT NULL,
  queue        text NOT NULL,
  key          text,
  attempt      integer NOT NULL,
  status       text NOT NULL CHECK (status IN
                 ('completed', 'failed', 'retrying', 'cancelled', 'expired', 'rescued', 'released')),
  scheduled_at timestamptz,
  run_time     timestamptz,
  finished_at  timestamptz NOT NULL DEFAULT now(),
  duration     interval,
  message      text,
  node_id      text,
  payload      jsonb,
  output       jsonb,
  owner        name NOT NULL DEFAULT current_user,
  PRIMARY KEY (log_id, finished_at, status)
) PARTITION BY LIST (status);
ALTER SEQUENCE {{schema}}.job_logs_log_seq OWNED BY {{schema}}.job_logs.log_id;
CREATE INDEX job_logs_run ON {{schema}}.job_logs (run_id);
CREATE INDEX job_logs_job ON {{schema}}.job_logs (job_id, log_id) WHERE job_id IS NOT NULL;
CREATE INDEX job_logs_finished ON {{schema}}.job_logs USING brin (finished_at);

CREATE TABLE {{schema}}.job_logs_completed PARTITION OF {{schema}}.job_logs
  FOR VALUES IN ('completed') PARTITION BY RANGE (finished_at);
CREATE TABLE {{schema}}.job_logs_failed PARTITION OF {{schema}}.job_logs
  FOR VALUES IN ('failed', 'expired', 'rescued', 'released', 'retrying') PARTITION BY RANGE (finished_at);
CREATE TABLE {{schema}}.job_logs_cancelled PARTITION OF {{schema}}.job_logs
  FOR VALUES IN ('cancelled') PARTITION BY RANGE (finished_at);
CREATE TABLE {{schema}}.job_logs_completed_default PARTITION OF {{schema}}.job_logs_completed DEFAULT;
CREATE TABLE {{schema}}.job_logs_failed_default PARTITION OF {{schema}}.job_logs_failed DEFAULT;
CREATE TABLE {{schema}}.job_logs_cancelled_default PARTITION OF {{schema}}.job_logs_cancelled DEFAULT;

CREATE SEQUENCE {{schema}}.step_logs_log_seq AS bigint;
CREATE TABLE {{schema}}.step_logs (
  step_log_id bigint NOT NULL DEFAULT nextval('{{schema}}.step_logs_log_seq'),
  run_id      bigint NOT NULL,
  attempt     integer NOT NULL,
  job_id      integer REFERENCES {{schema}}.jobs (job_id) ON DELETE CASCADE,
  step_id     integer,
  position    integer NOT NULL,
  name        text NOT NULL,
  status      text NOT NULL CHECK (status IN ('succeeded', 'failed', 'ignored', 'skipped')),
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  duration    interval,
  message     text,
  output      jsonb,
  owner       name NOT NULL DEFAULT current_user,
  node_id     text,
  PRIMARY KEY (step_log_id, finished_at)
) PARTITION BY RANGE (finished_at);
ALTER SEQUENCE {{schema}}.step_logs_log_seq OWNED BY {{schema}}.step_logs.step_log_id;
CREATE INDEX step_logs_run ON {{schema}}.step_logs (run_id, attempt);
CREATE INDEX step_logs_job ON {{schema}}.step_logs (job_id) WHERE job_id IS NOT NULL;
CREATE TABLE {{schema}}.step_logs_default PARTITION OF {{schema}}.step_logs DEFAULT;

-- ---------------------------------------------------------------- maintenance

-- The day partitions of the history (and the defaults): which table, which UTC day.
CREATE FUNCTION {{schema}}.history_partitions()
RETURNS TABLE (parent text, partition text, day date, is_default boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT p.relname::text, c.relname::text,
         CASE WHEN c.relname ~ '_[0-9]{8}$' THEN to_date(right(c.relname, 8), 'YYYYMMDD') END,
         pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
   WHERE p.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = {{lit_schema}})
     AND p.relname IN ('job_logs_completed', 'job_logs_failed', 'job_logs_cancelled', 'step_logs')
   ORDER BY 1, 3 NULLS FIRST
$$;

-- Create the day partitions of `days` UTC days from `first_day` that do not exist yet (in every
-- history table). Rows that already landed in a default partition for such a day move into it
-- first: ATTACH refuses a default partition holding rows of the new range. The partition is
-- built apart and attached, which locks the parent only in SHARE UPDATE EXCLUSIVE mode (inserts
-- and reads go on). Returns the number of partitions created.
CREATE FUNCTION {{schema}}.history_prepare(first_day date, days integer) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '10s' AS $$
DECLARE
  s text := {{lit_schema}};
  parent text;
  leaf text;
  d date;
  lo text;
  hi text;
  created integer := 0;
BEGIN
  IF first_day IS NULL OR days IS NULL OR days NOT BETWEEN 1 AND 366 THEN
    PERFORM {{schema}}.api_fail(format('history_prepare needs a first day and 1-366 days, got %s and %s', first_day, days));
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('kairos-history:' || s));
  FOREACH parent IN ARRAY ARRAY['job_logs_completed', 'job_logs_failed', 'job_logs_cancelled', 'step_logs'] LOOP
    FOR i IN 0 .. days - 1 LOOP
      d := first_day + i;
      leaf := parent || '_' || to_char(d, 'YYYYMMDD');
      CONTINUE WHEN to_regclass(format('%I.%I', s, leaf)) IS NOT NULL;
      lo := to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00';
      hi := to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
      EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', s, leaf, s, parent);
      EXECUTE format('WITH moved AS (DELETE FROM %I.%I WHERE finished_at >= %L AND finished_at < %L RETURNING *) '
                     'INSERT INTO %I.%I SELECT * FROM moved', s, parent || '_default', lo, hi, s, leaf);
      EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', s, parent, s, leaf, lo, hi);
      created := created + 1;
    END LOOP;
  END LOOP;
  RETURN created;
END $$;

-- Drop the day partitions that lie wholly before their table's cutoff (a day is kept while any
-- of it is within retention: rows live at least their retention and at most a day longer).
-- A partition whose lock is not granted within lock_timeout is left for the next pass rather
-- than queueing every writer behind the DROP. Returns each dropped partition and its row count.
CREATE FUNCTION {{schema}}.history_drop_expired(completed_before timestamptz, failed_before timestamptz,
                                               cancelled_before timestamptz, steps_before timestamptz)
RETURNS TABLE (partition text, row_count bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
  s text := {{lit_schema}};
  p record;
  n bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('kairos-history:' || s));
  FOR p IN SELECT h.partition, h.day,
                  CASE h.parent WHEN 'job_logs_completed' THEN completed_before WHEN 'job_logs_failed' THEN failed_before
                                WHEN 'job_logs_cancelled' THEN cancelled_before ELSE steps_before END AS cutoff
             FROM {{schema}}.history_partitions() h WHERE NOT h.is_default AND h.day IS NOT NULL LOOP
    CONTINUE WHEN p.cutoff IS NULL OR ((p.day + 1)::timestamp AT TIME ZONE 'UTC') > p.cutoff;
    BEGIN
      EXECUTE format('SELECT count(*) FROM %I.%I', s, p.partition) INTO n;
      EXECUTE format('DROP TABLE %I.%I', s, p.partition);
      partition := p.partition;
      row_count := n;
      RETURN NEXT;
    EXCEPTION WHEN lock_not_available THEN
      RAISE NOTICE 'kairos: partition % is busy; it is dropped on a later pass', p.partition;
    END;
  END LOOP;
END $$;

-- Delete up to max_rows rows finished before `before` from the default partitions of `history`
-- ('job_logs' or 'step_logs'; for job_logs only the given statuses). Day partitions are never
-- thinned row by row: they are dropped whole once expired. Returns the rows deleted.
CREATE FUNCTION {{schema}}.history_prune_default(history text, statuses text[], before timestamptz, max_rows integer)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s text := {{lit_schema}};
  def text;
  n integer;
  total integer := 0;
BEGIN
  IF history NOT IN ('job_logs', 'step_logs') THEN
    PERFORM {{schema}}.api_fail(format('history must be job_logs or step_logs, got %L', history));
  END IF;
  FOR def IN SELECT h.partition FROM {{schema}}.history_partitions() h
              WHERE h.is_default AND (h.parent = history OR (history = 'job_logs' AND h.parent LIKE 'job_logs_%')) LOOP
    EXIT WHEN total >= max_rows;
    EXECUTE format('DELETE FROM %I.%I WHERE ctid = ANY(ARRAY(SELECT ctid FROM %I.%I WHERE finished_at < $1 %s LIMIT $2))',
                   s, def, s, def, CASE WHEN history = 'job_logs' THEN 'AND status = ANY($3)' ELSE '' END)
      USING before, max_rows - total, statuses;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
  END LOOP;
  RETURN total;
END $$;

REVOKE ALL ON FUNCTION {{schema}}.history_partitions(), {{schema}}.history_prepare(date, integer),
  {{schema}}.history_drop_expired(timestamptz, timestamptz, timestamptz, timestamptz),
  {{schema}}.history_prune_default(text, text[], timestamptz, integer) FROM PUBLIC;

-- ---------------------------------------------------------------- move the rows, keep the access

SELECT {{schema}}.history_prepare((now() AT TIME ZONE 'UTC')::date - 1, 5);

INSERT INTO {{schema}}.job_logs (log_id, job_id, run_id, task, queue, key, attempt, status, scheduled_at, run_time,
                                 finished_at, duration, message, node_id, payload, output, owner)
SELECT log_id, job_id, run_id, task, queue, key, attempt, status, scheduled_at, run_time,
       finished_at, duration, message, node_id, payload, output, owner FROM {{schema}}.job_logs_old;
INSERT INTO {{schema}}.step_logs (step_log_id, run_id, attempt, job_id, step_id, position, name, status, started_at,
                                  finished_at, duration, message, output, owner, node_id)
SELECT step_log_id, run_id, attempt, job_id, step_id, position, name, status, started_at,
       finished_at, duration, message, output, owner, node_id FROM {{schema}}.step_logs_old;

-- The views of 0002, over the new table.
CREATE VIEW {{schema}}.my_job_log WITH (security_barrier) AS
  SELECT * FROM {{schema}}.job_logs WHERE owner = current_user;
CREATE VIEW {{schema}}.member_job_log WITH (security_barrier) AS
  SELECT * FROM {{schema}}.job_logs WHERE pg_has_role(current_user, owner, 'MEMBER');

-- Carry over whatever the old tables had: grants (those of 0002 and any an operator added; the
-- views get the old job_logs grants' SELECT, as in 0002), row-level security and its policies,
-- and the ids (the sequences continue after the highest id ever handed out).
DO $$
DECLARE
  s text := {{lit_schema}};
  pair text[];
  g record;
  pol record;
  old_seq text;
  last_id bigint;
BEGIN
  FOREACH pair SLICE 1 IN ARRAY ARRAY[['job_logs_old', 'job_logs'], ['step_logs_old', 'step_logs']] LOOP
    FOR g IN SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS who, a.privilege_type, a.is_grantable
               FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
              WHERE c.oid = format('%I.%I', s, pair[1])::regclass AND a.grantee <> c.relowner LOOP
      EXECUTE format('GRANT %s ON %I.%I TO %s%s', g.privilege_type, s, pair[2], g.who,
                     CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
      IF pair[2] = 'job_logs' AND g.privilege_type = 'SELECT' THEN
        EXECUTE format('GRANT SELECT ON %I.my_job_log, %I.member_job_log TO %s', s, s, g.who);
      END IF;
      IF g.privilege_type = 'INSERT' THEN
        EXECUTE format('GRANT USAGE ON SEQUENCE %I.%I TO %s', s, pair[2] || '_log_seq', g.who);
      END IF;
    END LOOP;
    EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', s, pair[2]);
    FOR pol IN SELECT p.polname, p.polpermissive, p.polcmd,
                      pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS checked,
                      (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE x::regrole::text END, ', ')
                         FROM unnest(p.polroles) x) AS roles
                 FROM pg_policy p WHERE p.polrelid = format('%I.%I', s, pair[1])::regclass LOOP
      EXECUTE format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s', pol.polname, s, pair[2],
                     CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                     CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                     pol.roles, coalesce(' USING (' || pol.qual || ')', ''), coalesce(' WITH CHECK (' || pol.checked || ')', ''));
    END LOOP;
    old_seq := pg_get_serial_sequence(format('%I.%I', s, pair[1]), CASE WHEN pair[2] = 'job_logs' THEN 'log_id' ELSE 'step_log_id' END);
    EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM %s', old_seq) INTO last_id;
    EXECUTE format('SELECT greatest(coalesce(max(%s), 0), $1) FROM %I.%I',
                   CASE WHEN pair[2] = 'job_logs' THEN 'log_id' ELSE 'step_log_id' END, s, pair[1]) INTO last_id USING last_id;
    IF last_id > 0 THEN PERFORM setval(format('%I.%I', s, pair[2] || '_log_seq'), last_id); END IF;
  END LOOP;
END $$;

DROP TABLE {{schema}}.job_logs_old, {{schema}}.step_logs_old;
