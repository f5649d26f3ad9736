-- Kairos schema, version 29: pgAgent's calendar schedules, compiled to Kairos's cron.
--
-- Why: seed 002 (pgAgent) writes a schedule as five boolean arrays: minutes[60], hours[24],
-- weekdays[7] (Sunday first, as jscweekdays), monthdays[32] (index 32 = the last day of the
-- month) and months[12], with a start, an end and exceptions. pgAgent users should be able to
-- bring them as they are (issue #14, item 16). pgagent_schedule() turns the arrays into one cron
-- expression with pgAgent's meaning, for define_job(cron => ARRAY[...]) and cron_preview(); the
-- start, end and exceptions are define_job's start_at, end_at and exceptions already.
-- pgAgent's rules (pga_next_schedule): an array with no true element matches everything; a time
-- matches when every field matches, so weekdays AND monthdays. Kairos's cron (Vixie's rule)
-- fires on either day field when both are restricted, so a schedule that restricts both is
-- compiled only when it can be said exactly: month days that are whole weeks of the month (1-7,
-- 8-14, 15-21, 22-28, 29-31) become `d#n` items (the n-th weekday d); any other such
-- combination is refused with 22023, and nothing is stored.
-- Safety: new functions only; no table or data changes. Forward-only, in one transaction.

CREATE FUNCTION {{schema}}.pgagent_field(items boolean[], label text, expected integer, pgagent_column text)
RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  positions integer[];
BEGIN
  IF items IS NULL THEN
    PERFORM {{schema}}.api_fail(format('%s must be an array of %s booleans (pgAgent''s %s), got NULL', label, expected, pgagent_column));
  END IF;
  IF array_ndims(items) IS DISTINCT FROM 1 OR array_length(items, 1) <> expected THEN
    PERFORM {{schema}}.api_fail(format('%s must be an array of %s booleans (pgAgent''s %s), got %s',
      label, expected, pgagent_column,
      CASE WHEN coalesce(array_ndims(items), 1) > 1 THEN format('a %s-dimensional array', array_ndims(items))
           ELSE format('%s element(s)', coalesce(array_length(items, 1), 0)) END));
  END IF;
  IF array_position(items, NULL) IS NOT NULL THEN
    PERFORM {{schema}}.api_fail(format('%s[%s] is NULL; each element of %s must be true or false',
      label, array_position(items, NULL) - array_lower(items, 1) + 1, label));
  END IF;
  -- 1-based positions of the true elements, whatever the array's lower bound.
  SELECT coalesce(array_agg(n ORDER BY n), '{}') INTO positions FROM unnest(items) WITH ORDINALITY AS t(v, n) WHERE v;
  RETURN positions;
END $$;
COMMENT ON FUNCTION {{schema}}.pgagent_field(boolean[], text, integer, text) IS
  'The 1-based positions of the true elements of one pgAgent schedule array; raises 22023 for NULL, a wrong length or a NULL element.';

CREATE FUNCTION {{schema}}.pgagent_schedule(
  minutes boolean[] DEFAULT array_fill(false, ARRAY[60]),
  hours boolean[] DEFAULT array_fill(false, ARRAY[24]),
  weekdays boolean[] DEFAULT array_fill(false, ARRAY[7]),
  monthdays boolean[] DEFAULT array_fill(false, ARRAY[32]),
  months boolean[] DEFAULT array_fill(false, ARRAY[12]))
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  m integer[] := {{schema}}.pgagent_field(minutes, 'minutes', 60, 'jscminutes');
  h integer[] := {{schema}}.pgagent_field(hours, 'hours', 24, 'jschours');
  w integer[] := {{schema}}.pgagent_field(weekdays, 'weekdays', 7, 'jscweekdays');
  d integer[] := {{schema}}.pgagent_field(monthdays, 'monthdays', 32, 'jscmonthdays');
  mo integer[] := {{schema}}.pgagent_field(months, 'months', 12, 'jscmonths');
  days integer[];
  dom text := '*';
  dow text := '*';
  weeks integer[] := '{}';
  result text;
  wk integer;
BEGIN
  days := array_remove(d, 32);
  -- Restricted = some element true and some false; all true and all false both match everything.
  -- Month days: every day 1-31 true matches every day (32, the last day, is one of them).
  IF cardinality(d) > 0 AND cardinality(days) < 31 THEN
    SELECT string_agg(x::text, ',' ORDER BY x) INTO dom FROM unnest(days) AS x;
    IF 32 = ANY (d) THEN dom := CASE WHEN dom IS NULL THEN 'L' ELSE dom || ',L' END; END IF;
  END IF;
  IF cardinality(w) BETWEEN 1 AND 6 THEN
    SELECT string_agg((x - 1)::text, ',' ORDER BY x) INTO dow FROM unnest(w) AS x;
  END IF;
  IF dom <> '*' AND dow <> '*' THEN
    -- pgAgent wants both; say it with d#n when the month days are whole weeks of the month.
    IF 32 <> ALL (d) THEN
      FOR wk IN 1..5 LOOP
        IF ARRAY(SELECT generate_series(7 * wk - 6, least(7 * wk, 31))) <@ days THEN weeks := weeks || wk; END IF;
      END LOOP;
    END IF;
    IF 32 = ANY (d) OR ARRAY(SELECT x FROM unnest(weeks) AS k, generate_series(7 * k - 6, least(7 * k, 31)) AS x) @> days IS NOT TRUE THEN
      PERFORM {{schema}}.api_fail(format(
        'weekdays and monthdays are both restricted (weekdays %s, monthdays %s): pgAgent runs on days that match both, '
        'and Kairos''s cron runs on days that match either, so this schedule has no exact cron form; '
        'restrict one of them, or give month days that are whole weeks of the month (1-7, 8-14, 15-21, 22-28, 29-31: '
        'monthdays 1-7 with Monday is the first Monday)', dow, dom));
    END IF;
    SELECT string_agg(format('%s#%s', x - 1, k), ',' ORDER BY k, x) INTO dow FROM unnest(w) AS x, unnest(weeks) AS k;
    dom := '*';
  END IF;
  result := concat_ws(' ',
    CASE WHEN cardinality(m) IN (0, 60) THEN '*' ELSE (SELECT string_agg((x - 1)::text, ',' ORDER BY x) FROM unnest(m) AS x) END,
    CASE WHEN cardinality(h) IN (0, 24) THEN '*' ELSE (SELECT string_agg((x - 1)::text, ',' ORDER BY x) FROM unnest(h) AS x) END,
    dom,
    CASE WHEN cardinality(mo) IN (0, 12) THEN '*' ELSE (SELECT string_agg(x::text, ',' ORDER BY x) FROM unnest(mo) AS x) END,
    dow);
  -- The cron parser's checks too: a schedule no date matches (monthdays 30 in February only) is refused.
  PERFORM {{schema}}.cron_parse(result);
  RETURN result;
END $$;
COMMENT ON FUNCTION {{schema}}.pgagent_schedule(boolean[], boolean[], boolean[], boolean[], boolean[]) IS
  'The cron expression of a pgAgent schedule (jscminutes[60], jschours[24], jscweekdays[7] Sunday first, jscmonthdays[32] with 32 = last day, jscmonths[12]; an array with no true element matches everything; weekdays AND monthdays). Raises 22023 for a wrong length, NULL, or both day arrays restricted in a way cron cannot say.';

DO $$
DECLARE
  s text := {{lit_schema}};
  who text := {{lit_role_scheduler}};
BEGIN
  EXECUTE format('REVOKE ALL ON FUNCTION %I.pgagent_field(boolean[], text, integer, text) FROM PUBLIC', s);
  EXECUTE format('REVOKE ALL ON FUNCTION %I.pgagent_schedule(boolean[], boolean[], boolean[], boolean[], boolean[]) FROM PUBLIC', s);
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who) THEN RETURN; END IF;
  EXECUTE format('GRANT EXECUTE ON FUNCTION %I.pgagent_field(boolean[], text, integer, text) TO %I', s, who);
  EXECUTE format('GRANT EXECUTE ON FUNCTION %I.pgagent_schedule(boolean[], boolean[], boolean[], boolean[], boolean[]) TO %I', s, who);
END $$;
