-- Kairos schema, version 30: occurrences that do not run are written to the history.
--
-- Why: the ticker drops due occurrences by the catch-up policy (catchUp 'skip' and 'latest' after
-- downtime, 'all' beyond maxLateness) and skips occurrences whose previous run is still active
-- (overlap 'skip'/'queue'); both were only logged and counted in the 'missed' alert, so the
-- history showed nothing for them though docs/observability.md said it did (issue #14, item 6).
-- The history gets two statuses: 'missed' (dropped by the catch-up policy) and 'skipped' (by the
-- overlap policy). They live in a new first-level partition job_logs_missed, day-partitioned
-- like the others, which follows retention.cancelled (neither ran): history_drop_expired drops
-- its days at the cancelled cutoff, and history_prune_default prunes its default partition
-- whenever the statuses asked for include 'cancelled' (the pruner asks with ['cancelled']).
-- Safety: a new empty partition (CREATE TABLE ... PARTITION OF takes an ACCESS EXCLUSIVE lock on
-- job_logs for the moment of the catalog change, no scan: the default-less list parent cannot hold
-- rows of the new values). The status CHECK is widened without a scan: the new one is added NOT
-- VALID (it holds for every row written from now on; every older row passed the stricter one it
-- replaces) and the old one dropped. The functions are replaced in place (same signatures).
-- Forward-only, in one transaction.

CREATE TABLE {{schema}}.job_logs_missed PARTITION OF {{schema}}.job_logs
  FOR VALUES IN ('missed', 'skipped') PARTITION BY RANGE (finished_at);
CREATE TABLE {{schema}}.job_logs_missed_default PARTITION OF {{schema}}.job_logs_missed DEFAULT;

ALTER TABLE {{schema}}.job_logs ADD CONSTRAINT job_logs_status_check CHECK (status = ANY (ARRAY[
  'completed', 'failed', 'retrying', 'cancelled', 'expired', 'rescued', 'released', 'missed', 'skipped'])) NOT VALID;
ALTER TABLE {{schema}}.job_logs DROP CONSTRAINT job_logs_status_check1;

CREATE OR REPLACE FUNCTION {{schema}}.history_partitions()
 RETURNS TABLE(parent text, partition text, day date, is_default boolean)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  SELECT p.relname::text, c.relname::text,
         CASE WHEN c.relname ~ '_[0-9]{8}$' THEN to_date(right(c.relname, 8), 'YYYYMMDD') END,
         pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
   WHERE p.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = {{lit_schema}})
     AND p.relname IN ('job_logs_completed', 'job_logs_failed', 'job_logs_cancelled', 'job_logs_missed', 'step_logs')
   ORDER BY 1, 3 NULLS FIRST
$function$;

CREATE OR REPLACE FUNCTION {{schema}}.history_prepare(first_day date, days integer)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '10s'
AS $function$
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
  FOREACH parent IN ARRAY ARRAY['job_logs_completed', 'job_logs_failed', 'job_logs_cancelled', 'job_logs_missed', 'step_logs'] LOOP
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
END $function$;

CREATE OR REPLACE FUNCTION {{schema}}.history_drop_expired(completed_before timestamp with time zone, failed_before timestamp with time zone, cancelled_before timestamp with time zone, steps_before timestamp with time zone)
 RETURNS TABLE(partition text, row_count bigint)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
DECLARE
  s text := {{lit_schema}};
  p record;
  n bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('kairos-history:' || s));
  FOR p IN SELECT h.partition, h.day,
                  CASE h.parent WHEN 'job_logs_completed' THEN completed_before WHEN 'job_logs_failed' THEN failed_before
                                WHEN 'job_logs_cancelled' THEN cancelled_before WHEN 'job_logs_missed' THEN cancelled_before
                                ELSE steps_before END AS cutoff
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
END $function$;

CREATE OR REPLACE FUNCTION {{schema}}.history_prune_default(history text, statuses text[], before timestamp with time zone, max_rows integer)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
  s text := {{lit_schema}};
  def text;
  n integer;
  total integer := 0;
BEGIN
  IF history NOT IN ('job_logs', 'step_logs') THEN
    PERFORM {{schema}}.api_fail(format('history must be job_logs or step_logs, got %L', history));
  END IF;
  -- Missed and skipped occurrences follow retention.cancelled (see history_drop_expired).
  IF 'cancelled' = ANY(statuses) THEN
    statuses := statuses || ARRAY['missed', 'skipped'];
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
END $function$;
