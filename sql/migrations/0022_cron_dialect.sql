-- Kairos schema, version 22: the cron dialect takes `?` in a day field and LW in a list (issue #14).
--
-- Why: `?` in a day field ("no specific value", as Quartz, Spring, AWS EventBridge and croner
-- users write `0 0 ? * MON`) and LW in a day-of-month list (`0 0 LW,15 * *`) were refused.
-- Both are accepted now, identically here and in src/core/cron.ts (test/core/cron-sql.test.ts and
-- test/core/cron-property.test.ts compare the two):
-- - `?` alone in the day-of-month or the day-of-week field means `*` there, so the other field
--   alone decides; `?` in both day fields, in a list, or in another field is refused, in words
--   that say so;
-- - LW in a list matches the last weekday of the month as well as the other items; the day
--   fields combine as before (either may match, both must when one starts with *, or when the
--   day-of-month list is `*` once L and LW are out).
-- Docs: docs/schedules.md#the-dialect.
--
-- Safety: two functions replaced with the same signatures, result types, volatility and
-- strictness (grants are kept by CREATE OR REPLACE). Everything they accepted before they accept
-- with the same meaning; they only accept more, and refuse `?` with other messages. Nothing
-- stored changes: a stored schedule could not hold `?` or LW in a list.

CREATE OR REPLACE FUNCTION {{schema}}.cron_parse_line(line text, label text)
 RETURNS {{schema}}.cron_spec
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
  fields text[];
  f text[] := '{}';        -- the six normalized fields, seconds first
  dom_items text[];
  item text;
  parts text[];
  v integer;
  weekdays integer[] := '{0,0,0,0,0,0,0}';
  spec {{schema}}.cron_spec;
  m integer;
  len integer;
BEGIN
  IF line LIKE '@%' THEN
    line := lower(line COLLATE "C");  -- ASCII case mapping, whatever the database's collation
    IF line = '@reboot' THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('invalid cron expression %s: Kairos has no reboot event; start the job from your own start-up code instead', label);
    END IF;
    line := CASE line
      WHEN '@yearly' THEN '0 0 1 1 *' WHEN '@annually' THEN '0 0 1 1 *' WHEN '@monthly' THEN '0 0 1 * *'
      WHEN '@weekly' THEN '0 0 * * 0' WHEN '@daily' THEN '0 0 * * *' WHEN '@midnight' THEN '0 0 * * *'
      WHEN '@hourly' THEN '0 * * * *' END;
    IF line IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('invalid cron expression %s: unknown alias; use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly', label);
    END IF;
  END IF;

  -- JavaScript's \s: PostgreSQL's alone misses Unicode spaces (no-break space…) in some locales.
  fields := regexp_split_to_array(line, '[\s\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+');
  IF cardinality(fields) = 5 THEN
    fields := ARRAY['0'] || fields;  -- 5 fields fire at second 0
  ELSIF cardinality(fields) <> 6 THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('invalid cron expression %s: it has %s fields, not 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)%s',
        label, cardinality(fields), CASE WHEN cardinality(fields) = 7 THEN '; Kairos has no year field' ELSE '' END);
  END IF;
  FOR i IN 1..6 LOOP
    f := f || {{schema}}.cron_parse_field(upper(fields[i] COLLATE "C"), i, label);
  END LOOP;
  -- Quartz and EventBridge refuse this too; both `*` would be every day, so say so.
  IF fields[4] = '?' AND fields[6] = '?' THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('invalid cron expression %s: both day fields are "?"; "?" belongs in one of them (write * in both to fire every day)', label);
  END IF;

  spec.seconds := {{schema}}.cron_expand(string_to_array(f[1], ','), 0, 59);
  spec.minutes := {{schema}}.cron_expand(string_to_array(f[2], ','), 0, 59);
  spec.hours := {{schema}}.cron_expand(string_to_array(f[3], ','), 0, 23);
  spec.months := {{schema}}.cron_expand(string_to_array(f[5], ','), 1, 12);

  -- Day of month: L and LW items (alone or in a list) taken out of the list, as flags.
  dom_items := string_to_array(f[4], ',');
  spec.last_weekday := 'LW' = ANY (dom_items);
  spec.last_day := 'L' = ANY (dom_items);
  dom_items := array_remove(array_remove(dom_items, 'LW'), 'L');
  spec.nearest := ARRAY(SELECT left(x, -1)::integer FROM unnest(dom_items) AS x WHERE x LIKE '%W');
  spec.days := {{schema}}.cron_expand(ARRAY(SELECT x FROM unnest(dom_items) AS x WHERE x NOT LIKE '%W'), 1, 31);

  -- Day of week: one bit mask per weekday; 7 is Sunday.
  IF f[6] <> '*' THEN
    FOREACH item IN ARRAY string_to_array(f[6], ',') LOOP
      parts := regexp_match(item, '^([0-9]+)(?:#([0-9]+)|(L))$');
      IF parts IS NULL THEN
        FOREACH v IN ARRAY {{schema}}.cron_expand(ARRAY[item], 0, 6) LOOP
          weekdays[v % 7 + 1] := 63;
        END LOOP;
      ELSE
        v := parts[1]::integer % 7;
        weekdays[v + 1] := weekdays[v + 1] | CASE WHEN parts[3] = 'L' THEN 32 ELSE 1 << (parts[2]::integer - 1) END;
      END IF;
    END LOOP;
    spec.weekdays := weekdays;
  END IF;

  -- Vixie: both day fields restricted means either may match, unless one of them starts with *.
  -- croner also requires both when the day-of-month field is exactly * once L items are removed
  -- (`L,*`); so does Kairos once LW items are removed too (`LW,*`), in SQL and TypeScript.
  spec.days_and := dom_items = ARRAY['*']
    OR (f[4] <> '*' AND f[6] <> '*' AND (f[4] LIKE '*%' OR f[6] LIKE '*%'));
  spec.fixed_time := f[1] !~ '[*/]' AND f[2] !~ '[*/]' AND f[3] !~ '[*/]';

  -- Which days match depends only on the month, its length and the weekday of its 1st, and
  -- every such combination happens, so trying them all tells whether the line can ever fire.
  FOREACH m IN ARRAY spec.months LOOP
    FOR first_weekday IN 0..6 LOOP
      FOREACH len IN ARRAY CASE WHEN m = 2 THEN ARRAY[28, 29] WHEN m IN (4, 6, 9, 11) THEN ARRAY[30] ELSE ARRAY[31] END LOOP
        IF {{schema}}.cron_month_days(spec, len, first_weekday) <> 0 THEN
          RETURN spec;
        END IF;
      END LOOP;
    END LOOP;
  END LOOP;
  RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
    MESSAGE = format('invalid cron expression %s: no date ever matches its day and month fields, so it would never fire', label);
END;
$function$;

CREATE OR REPLACE FUNCTION {{schema}}.cron_parse_field(raw text, field integer, label text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
  field_name text := (ARRAY['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'])[field];
  low_value integer := (ARRAY[0, 0, 0, 1, 1, 0])[field];
  top integer := (ARRAY[59, 59, 23, 31, 12, 6])[field];  -- where `a/n` stops: Saturday for days of the week
  item text;
  parts text[];
  step numeric;
  step_text text;
  low integer;
  high integer;
  normalized text[] := '{}';
BEGIN
  -- `?` (Quartz's "no specific value") alone in a day field is `*`; cron_parse_line refuses it in both.
  IF raw = '?' AND field IN (4, 6) THEN
    RETURN '*';
  END IF;
  FOREACH item IN ARRAY string_to_array(raw, ',') LOOP
    IF item = '?' THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = CASE WHEN field IN (4, 6)
        THEN format('invalid cron expression %s: the %s field has "?" in the list "%s"; ? must stand alone', label, field_name, raw)
        ELSE format('invalid cron expression %s: the %s field does not accept "?"; only the day-of-month and day-of-week fields do (no specific value)', label, field_name) END;
    END IF;
    IF field = 4 AND item IN ('L', 'LW') THEN
      normalized := normalized || item;
      CONTINUE;
    ELSIF field = 4 AND item ~ '^[0-9]+W$' THEN
      normalized := normalized || ({{schema}}.cron_field_value(left(item, -1), field, label) || 'W');
      CONTINUE;
    ELSIF field = 6 THEN
      parts := regexp_match(item, '^([0-9A-Z]+)#([0-9]+)$');
      IF parts IS NOT NULL THEN
        IF parts[2]::numeric NOT BETWEEN 1 AND 5 THEN
          RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('invalid cron expression %s: the day-of-week field has "%s", but # must be followed by 1-5', label, item);
        END IF;
        normalized := normalized || ({{schema}}.cron_field_value(parts[1], field, label) || '#' || parts[2]::integer);
        CONTINUE;
      END IF;
      parts := regexp_match(item, '^([0-9A-Z]+)L$');
      IF parts IS NOT NULL THEN
        normalized := normalized || ({{schema}}.cron_field_value(parts[1], field, label) || 'L');
        CONTINUE;
      END IF;
    END IF;

    parts := regexp_match(item, '^(\*|[0-9A-Z]+)(?:-([0-9A-Z]+))?(?:/([0-9]+))?$');
    IF parts IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('invalid cron expression %s: the %s field has an entry "%s" that is not a value, range or step', label, field_name, item);
    END IF;
    step_text := '';
    IF parts[3] IS NOT NULL THEN
      step := parts[3]::numeric;
      -- A step larger than the field would only ever give its first value.
      IF step < 1 OR step > top - low_value + 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
          MESSAGE = format('invalid cron expression %s: the %s field has step %s; steps must be 1-%s', label, field_name, step, top - low_value + 1);
      END IF;
      step_text := '/' || step;
    END IF;
    IF parts[1] = '*' THEN
      IF parts[2] IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
          MESSAGE = format('invalid cron expression %s: the %s field has "%s", but * cannot start a range', label, field_name, item);
      END IF;
      normalized := normalized || ('*' || step_text);
      CONTINUE;
    END IF;
    low := {{schema}}.cron_field_value(parts[1], field, label);
    high := CASE
      WHEN parts[2] IS NOT NULL THEN {{schema}}.cron_field_value(parts[2], field, label)
      WHEN parts[3] IS NOT NULL THEN top  -- `a/n` means `a-top/n`
    END;
    IF high IS NULL THEN
      normalized := normalized || low::text;
      CONTINUE;
    END IF;
    IF low > high THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('invalid cron expression %s: the %s field has the reversed range "%s"; write ranges low-high', label, field_name, item);
    END IF;
    normalized := normalized || (low || '-' || high || step_text);
  END LOOP;
  RETURN array_to_string(normalized, ',');
END;
$function$;

COMMENT ON FUNCTION {{schema}}.cron_parse_field(text, integer, text) IS
  'Validate one upper-cased cron field (1 = second … 6 = day-of-week) and return it normalized (numbers, a-b/n, `?` in a day field as *). Raises 22023 naming the field and the value.';
