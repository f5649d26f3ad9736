-- Kairos schema, version 3: cron expressions in SQL.
-- {{schema}} is replaced by the validated, quoted schema name.
--
-- SQL users (psql, triggers) declare jobs with cron expressions; these functions refuse bad
-- expressions with SQLSTATE 22023 and compute fire times exactly as src/core/cron.ts does:
--
--   cron_validate(expression, timezone)               raises 22023 on anything cron.ts refuses
--   cron_next(expression, timezone, after)            first fire time strictly after `after`
--   cron_preview(expression, timezone, after, count)  the next `count` fire times
--
-- Syntax and rules are those of docs/schedules.md: 5 or 6 fields, names, ranges, steps, `a/n`,
-- L, LW, nW, dL, d#n, the @aliases, Vixie's day rule, Vixie's DST rules, gaps across midnight.
-- An expression may hold several cron lines separated by newlines: it fires at the union of
-- their fire times (blank lines are ignored).
--
-- How a fire time is found: every wall-clock time that matches the fields gives the instants at
-- which that local time happens, and the answer is the earliest such instant after `after`:
--   * a wall-clock time that happens once gives that instant;
--   * one repeated by a fall-back transition gives both instants (only the first for fixed-time
--     jobs, which have no * or / in their second, minute and hour fields);
--   * one skipped by a spring-forward gap gives nothing, except for fixed-time jobs: the end of
--     the gap, if the gap ends on the same local day (croner's rule) or, for gaps between 1990
--     and 2100 that cross midnight, in any case (Kairos's own MidnightGapRuns).
-- The search walks months (skipping months the month field excludes), then the matching days of
-- a month, and within a day jumps straight to the first matching time of day, so its cost does
-- not depend on how far away the next fire time is.

-- A parsed cron line, reduced to the sets of values croner would build from it.
CREATE TYPE {{schema}}.cron_spec AS (
  seconds      integer[],  -- allowed seconds, ascending
  minutes      integer[],  -- allowed minutes, ascending
  hours        integer[],  -- allowed hours, ascending
  months       integer[],  -- allowed months 1-12, ascending
  days         integer[],  -- plain day-of-month values 1-31
  nearest      integer[],  -- nW: days whose nearest weekday matches
  last_day     boolean,    -- L in day-of-month
  last_weekday boolean,    -- LW in day-of-month
  weekdays     integer[],  -- [1..7] = Sunday..Saturday: 0 = no, bits 1..16 = #1..#5, 32 = last (dL),
                           -- 63 = any; NULL when the day-of-week field is `*`
  days_and     boolean,    -- both day fields must match (otherwise either one)
  fixed_time   boolean     -- no * or / in second, minute and hour: Vixie's fixed-time DST rules
);
COMMENT ON TYPE {{schema}}.cron_spec IS
  'One parsed cron line (internal to the cron_* functions): allowed values per field and the day rules.';

-- Time zones -------------------------------------------------------------------------------

-- TypeScript accepts any zone name Node's ICU knows. PostgreSQL's AT TIME ZONE accepts more and
-- reads some names differently: abbreviations come first (CET is then a fixed +01:00 and PST a
-- fixed -08:00, while ICU follows Brussels' and Los Angeles' DST), and a name that is not a zone
-- file is read as a POSIX rule ('FOO3BAR', even 'America/New_York+5'). So:
--   * names without a slash come from the list below only: the zones ICU maps them to (checked
--     against Intl by test/core/cron-sql.test.ts);
--   * names with a slash must be zone files: no digits (a POSIX rule needs an offset), except
--     the Etc/GMT+N files, and found by PostgreSQL (pg_input_is_valid never throws).
CREATE FUNCTION {{schema}}.cron_zone(timezone text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  zone text;
BEGIN
  IF timezone IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = 'unknown time zone NULL';
  END IF;
  -- The same test as src/core/timezone.ts: offsets cannot follow daylight saving time.
  IF timezone ~* '^([+-]|(utc|gmt)[+-])' THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('time zone "%s" is a UTC offset, which does not follow daylight saving time; use a zone name such as "Europe/London"', timezone);
  END IF;
  IF strpos(timezone, '/') > 0 THEN
    IF timezone ~ '^[A-Za-z_-]+(/[A-Za-z_-]+)+$' OR timezone ~* '^etc/gmt(0|[+-]0|\+([1-9]|1[0-2])|-([1-9]|1[0-4]))$' THEN
      IF pg_input_is_valid('2000-01-01 00:00:00 ' || timezone, 'timestamptz') THEN
        RETURN timezone;
      END IF;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = format('unknown time zone "%s"', timezone);
  END IF;
  SELECT z.target INTO zone FROM (VALUES
    ('CET', 'Europe/Brussels'), ('CST6CDT', 'America/Chicago'), ('CUBA', 'America/Havana'),
    ('EET', 'Europe/Athens'), ('EST', 'America/Panama'), ('EST5EDT', 'America/New_York'),
    ('EGYPT', 'Africa/Cairo'), ('EIRE', 'Europe/Dublin'), ('GB', 'Europe/London'),
    ('GB-EIRE', 'Europe/London'), ('GMT', 'UTC'), ('GMT0', 'UTC'), ('GREENWICH', 'UTC'),
    ('HST', 'Pacific/Honolulu'), ('HONGKONG', 'Asia/Hong_Kong'), ('ICELAND', 'Atlantic/Reykjavik'),
    ('IRAN', 'Asia/Tehran'), ('ISRAEL', 'Asia/Jerusalem'), ('JAMAICA', 'America/Jamaica'),
    ('JAPAN', 'Asia/Tokyo'), ('KWAJALEIN', 'Pacific/Kwajalein'), ('LIBYA', 'Africa/Tripoli'),
    ('MET', 'Europe/Brussels'), ('MST', 'America/Phoenix'), ('MST7MDT', 'America/Denver'),
    ('NZ', 'Pacific/Auckland'), ('NZ-CHAT', 'Pacific/Chatham'), ('NAVAJO', 'America/Denver'),
    ('PRC', 'Asia/Shanghai'), ('PST8PDT', 'America/Los_Angeles'), ('POLAND', 'Europe/Warsaw'),
    ('PORTUGAL', 'Europe/Lisbon'), ('ROC', 'Asia/Taipei'), ('ROK', 'Asia/Seoul'),
    ('SINGAPORE', 'Asia/Singapore'), ('TURKEY', 'Europe/Istanbul'), ('UCT', 'UTC'), ('UTC', 'UTC'),
    ('UNIVERSAL', 'UTC'), ('W-SU', 'Europe/Moscow'), ('WET', 'Europe/Lisbon'), ('ZULU', 'UTC'),
    -- ICU's legacy three-letter IDs
    ('ACT', 'Australia/Darwin'), ('AET', 'Australia/Sydney'), ('AGT', 'America/Buenos_Aires'),
    ('ART', 'Africa/Cairo'), ('AST', 'America/Anchorage'), ('BET', 'America/Sao_Paulo'),
    ('BST', 'Asia/Dhaka'), ('CAT', 'Africa/Maputo'), ('CNT', 'America/St_Johns'),
    ('CST', 'America/Chicago'), ('CTT', 'Asia/Shanghai'), ('EAT', 'Africa/Nairobi'),
    ('ECT', 'Europe/Paris'), ('IET', 'America/Indianapolis'), ('IST', 'Asia/Calcutta'),
    ('JST', 'Asia/Tokyo'), ('MIT', 'Pacific/Apia'), ('NET', 'Asia/Yerevan'),
    ('NST', 'Pacific/Auckland'), ('PLT', 'Asia/Karachi'), ('PNT', 'America/Phoenix'),
    ('PRT', 'America/Puerto_Rico'), ('PST', 'America/Los_Angeles'), ('SST', 'Pacific/Guadalcanal'),
    ('VST', 'Asia/Saigon')
  ) AS z(name, target) WHERE z.name = upper(timezone COLLATE "C");
  IF FOUND THEN
    RETURN zone;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = format('unknown time zone "%s"', timezone);
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_zone(text) IS
  'Validate an IANA time zone name as Kairos does (offsets such as +02:00 refused) and return the name to give AT TIME ZONE. Raises 22023.';

-- Parsing ----------------------------------------------------------------------------------

-- How an expression (or one of its lines) is shown in messages: like describeValue() in
-- src/core/errors.ts, JSON-quoted and cut at 60 characters.
CREATE FUNCTION {{schema}}.cron_quote(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN '"' || replace(replace(replace(replace(replace(
         CASE WHEN length(value) > 60 THEN left(value, 57) || '...' ELSE value END,
         '\', '\\'), '"', '\"'), E'\n', '\n'), E'\r', '\r'), E'\t', '\t') || '"';
COMMENT ON FUNCTION {{schema}}.cron_quote(text) IS
  'Quote a cron expression for an error message, as the TypeScript messages do.';

-- One value of a field: a number in range or, for month and day-of-week, a name.
-- `label` is the quoted expression the message names.
CREATE FUNCTION {{schema}}.cron_field_value(token text, field integer, label text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  field_name text := (ARRAY['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'])[field];
  low integer := (ARRAY[0, 0, 0, 1, 1, 0])[field];
  high integer := (ARRAY[59, 59, 23, 31, 12, 7])[field];  -- day-of-week accepts 7 for Sunday
  names text[] := CASE field
    WHEN 5 THEN ARRAY['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
    WHEN 6 THEN ARRAY['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] END;
  position integer;
BEGIN
  IF token ~ '^[0-9]+$' THEN
    -- numeric, not integer: a long run of digits must be reported, not overflow
    IF token::numeric < low OR token::numeric > high THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('invalid cron expression %s: the %s field allows %s-%s, not %s', label, field_name, low, high, token);
    END IF;
    RETURN token::integer;
  END IF;
  position := array_position(names, token);
  IF position IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('invalid cron expression %s: the %s field does not accept "%s"%s', label, field_name, token,
        CASE WHEN names IS NULL THEN '' ELSE format(' (names: %s-%s)', names[1], names[cardinality(names)]) END);
  END IF;
  -- months count from 1 (JAN = 1), days of the week from 0 (SUN = 0)
  RETURN CASE field WHEN 5 THEN position ELSE position - 1 END;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_field_value(text, integer, text) IS
  'Parse one value of cron field `field` (1 = second … 6 = day-of-week): a number in range or a month/day name. Raises 22023.';

-- Validate one field (upper case) and rewrite it as src/core/cron.ts does before croner sees it:
-- names become numbers, `a/n` becomes `a-top/n`, `L`, `LW`, `nW`, `dL` and `d#n` stay.
CREATE FUNCTION {{schema}}.cron_parse_field(raw text, field integer, label text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
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
  FOREACH item IN ARRAY string_to_array(raw, ',') LOOP
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
$$;
COMMENT ON FUNCTION {{schema}}.cron_parse_field(text, integer, text) IS
  'Validate one upper-cased cron field (1 = second … 6 = day-of-week) and return it normalized (numbers, a-b/n). Raises 22023 naming the field and the value.';

-- The values of normalized plain items ('*', '*/n', 'a', 'a-b', 'a-b/n'), ascending.
-- Steps of `*` start at the field's first value, as in croner.
CREATE FUNCTION {{schema}}.cron_expand(items text[], low integer, high integer) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT coalesce(array_agg(DISTINCT v ORDER BY v), '{}')
  FROM unnest(items) AS item,
       regexp_match(item, '^(\*|[0-9]+)(?:-([0-9]+))?(?:/([0-9]+))?$') AS p,
       generate_series(
         CASE WHEN p[1] = '*' THEN low ELSE p[1]::integer END,
         CASE WHEN p[1] = '*' THEN high ELSE coalesce(p[2], p[1])::integer END,
         coalesce(p[3]::integer, 1)) AS v;
END;
COMMENT ON FUNCTION {{schema}}.cron_expand(text[], integer, integer) IS
  'Expand normalized plain cron items (*, */n, a, a-b, a-b/n) within low..high to their values, ascending.';

-- The days of a month of `len` days whose 1st is weekday `first_weekday` (0 = Sunday) that the
-- day fields match, as a bit mask (bit d = day d). Depends only on these two numbers, which is
-- what lets cron_parse_line prove that an expression never fires, and cron_line_next cache it.
CREATE FUNCTION {{schema}}.cron_month_days(spec {{schema}}.cron_spec, len integer, first_weekday integer) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  special integer[] := '{}';  -- days matched by nW, LW and L this month
  n integer;
  weekday integer;
  bits integer;
  by_month_day boolean;
  by_weekday boolean;
  matches boolean;
  matched bigint := 0;
BEGIN
  -- nW: the weekday nearest day n, never leaving the month; months without day n have none.
  FOREACH n IN ARRAY spec.nearest LOOP
    CONTINUE WHEN n > len;
    weekday := (first_weekday + n - 1) % 7;
    special := special || CASE
      WHEN weekday = 0 THEN CASE WHEN n = len THEN n - 2 ELSE n + 1 END  -- Sunday
      WHEN weekday = 6 THEN CASE WHEN n = 1 THEN n + 2 ELSE n - 1 END    -- Saturday
      ELSE n END;
  END LOOP;
  IF spec.last_weekday THEN
    special := special || (len - CASE (first_weekday + len - 1) % 7 WHEN 0 THEN 2 WHEN 6 THEN 1 ELSE 0 END);
  END IF;
  IF spec.last_day THEN
    special := special || len;
  END IF;

  FOR d IN 1..len LOOP
    by_month_day := d = ANY (spec.days) OR d = ANY (special);
    IF spec.weekdays IS NULL THEN
      matches := by_month_day;  -- day of week `*`: the day of month decides alone
    ELSE
      bits := spec.weekdays[(first_weekday + d - 1) % 7 + 1];
      -- the n-th such weekday of the month (bit n-1), or the last one (32)
      by_weekday := (bits & (1 << ((d - 1) / 7))) <> 0 OR ((bits & 32) <> 0 AND d + 7 > len);
      matches := CASE WHEN spec.days_and THEN by_weekday AND by_month_day ELSE by_weekday OR by_month_day END;
    END IF;
    IF matches THEN
      matched := matched | (1::bigint << d);
    END IF;
  END LOOP;
  RETURN matched;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_month_days({{schema}}.cron_spec, integer, integer) IS
  'The days of a month (its length, the weekday of its 1st) that a parsed cron line matches, as a bit mask (bit d = day d), with Vixie''s OR/AND rule.';

-- Parse one cron line into a cron_spec, refusing what src/core/cron.ts refuses.
CREATE FUNCTION {{schema}}.cron_parse_line(line text, label text) RETURNS {{schema}}.cron_spec
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
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

  spec.seconds := {{schema}}.cron_expand(string_to_array(f[1], ','), 0, 59);
  spec.minutes := {{schema}}.cron_expand(string_to_array(f[2], ','), 0, 59);
  spec.hours := {{schema}}.cron_expand(string_to_array(f[3], ','), 0, 23);
  spec.months := {{schema}}.cron_expand(string_to_array(f[5], ','), 1, 12);

  -- Day of month, read as croner reads it: LW only on its own, L items taken out of a list.
  dom_items := string_to_array(f[4], ',');
  spec.last_weekday := f[4] = 'LW';
  spec.last_day := NOT spec.last_weekday AND 'L' = ANY (dom_items);
  IF spec.last_weekday THEN
    dom_items := '{}';
  ELSIF 'LW' = ANY (dom_items) THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('invalid cron expression %s: the day-of-month field has "LW" in the list "%s"; LW must stand alone', label, f[4]);
  END IF;
  dom_items := array_remove(dom_items, 'L');
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
  -- croner also requires both when the day-of-month field is exactly * once L items are removed.
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
$$;
COMMENT ON FUNCTION {{schema}}.cron_parse_line(text, text) IS
  'Parse and validate one trimmed cron line (5 or 6 fields or an @alias); `label` names it in messages. Raises 22023.';

-- Parse a whole expression: one or more cron lines separated by newlines (blank lines ignored).
CREATE FUNCTION {{schema}}.cron_parse(expression text) RETURNS {{schema}}.cron_spec[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  lines text[];
  non_blank integer;
  specs {{schema}}.cron_spec[] := '{}';
BEGIN
  IF expression IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = 'invalid cron expression NULL: it must be a string';
  END IF;
  -- Lines trimmed as JavaScript's trim() does (its whitespace, not only PostgreSQL's \s).
  lines := ARRAY(SELECT regexp_replace(l, '^[\s\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+|[\s\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$', '', 'g') FROM unnest(string_to_array(expression, E'\n')) AS l);
  non_blank := cardinality(array_remove(lines, ''));
  IF non_blank = 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('invalid cron expression %s: it is empty', {{schema}}.cron_quote(expression));
  END IF;
  FOR i IN 1..cardinality(lines) LOOP
    CONTINUE WHEN lines[i] = '';
    -- One line is named like the whole expression, as in the TypeScript messages; several by number.
    specs := specs || {{schema}}.cron_parse_line(lines[i], CASE WHEN non_blank = 1 THEN {{schema}}.cron_quote(expression)
      ELSE format('%s (line %s)', {{schema}}.cron_quote(lines[i]), i) END);
  END LOOP;
  RETURN specs;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_parse(text) IS
  'Parse and validate a cron expression of one or more newline-separated lines into cron_specs. Raises 22023.';

-- Fire-time search ------------------------------------------------------------------------

-- The first matching time of day at or after `from_second` (seconds since midnight), or NULL.
CREATE FUNCTION {{schema}}.cron_next_time(spec {{schema}}.cron_spec, from_second integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  h integer := from_second / 3600;
  m integer := from_second / 60 % 60;
  s integer := from_second % 60;
  hh integer;
  mm integer;
  ss integer;
BEGIN
  FOREACH hh IN ARRAY spec.hours LOOP
    CONTINUE WHEN hh < h;
    IF hh > h THEN
      RETURN hh * 3600 + spec.minutes[1] * 60 + spec.seconds[1];
    END IF;
    FOREACH mm IN ARRAY spec.minutes LOOP
      CONTINUE WHEN mm < m;
      IF mm > m THEN
        RETURN hh * 3600 + mm * 60 + spec.seconds[1];
      END IF;
      FOREACH ss IN ARRAY spec.seconds LOOP
        IF ss >= s THEN
          RETURN hh * 3600 + mm * 60 + ss;
        END IF;
      END LOOP;
    END LOOP;
  END LOOP;
  RETURN NULL;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_next_time({{schema}}.cron_spec, integer) IS
  'The first time of day (seconds since midnight) at or after from_second that a parsed cron line matches, or NULL.';

-- The first whole second in (low, high] (Unix seconds) where the zone's UTC offset differs from
-- its offset at `low`: a clock change, found by bisection.
CREATE FUNCTION {{schema}}.cron_transition(zone text, low bigint, high bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  base integer := (extract(epoch FROM to_timestamp(low) AT TIME ZONE zone) - low)::integer;
  middle bigint;
BEGIN
  WHILE high - low > 1 LOOP
    middle := low + (high - low) / 2;
    IF (extract(epoch FROM to_timestamp(middle) AT TIME ZONE zone) - middle)::integer = base THEN
      low := middle;
    ELSE
      high := middle;
    END IF;
  END LOOP;
  RETURN high;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_transition(text, bigint, bigint) IS
  'The first Unix second in (low, high] at which the UTC offset of `zone` differs from its offset at low.';

-- The earliest fire time (Unix seconds) after `after_s` among the wall-clock times of one local
-- day, `day_start` being its midnight as wall-clock seconds (the Unix time of the same fields in
-- UTC). `normal` says the day and its surroundings have no clock change, in which case no later
-- day can have an earlier fire time.
CREATE FUNCTION {{schema}}.cron_day_next(
  spec {{schema}}.cron_spec, zone text, day_start bigint, after_s bigint,
  OUT next_at bigint, OUT normal boolean)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- Every instant whose wall clock falls on this day lies in this window: offsets range from
  -- -12 h to +14 h.
  window_start bigint := day_start - 54000;
  window_middle bigint := day_start + 39600;
  window_end bigint := day_start + 133200;
  o integer;
  edge bigint;
  cursor_at bigint;
  starts bigint[];
  offsets integer[];
  stretch_end bigint;
  covered bigint;
  low bigint;
  high bigint;
  t integer;
BEGIN
  o := (extract(epoch FROM to_timestamp(window_start) AT TIME ZONE zone) - window_start)::integer;
  normal := o = (extract(epoch FROM to_timestamp(window_middle) AT TIME ZONE zone) - window_middle)::integer
        AND o = (extract(epoch FROM to_timestamp(window_end) AT TIME ZONE zone) - window_end)::integer;
  IF normal THEN
    -- One offset all day: every wall-clock time happens exactly once.
    low := greatest(0, after_s + 1 + o - day_start);
    IF low < 86400 THEN
      next_at := day_start + {{schema}}.cron_next_time(spec, low::integer) - o;
    END IF;
    RETURN;
  END IF;

  -- Split the window into stretches of constant offset: starts[k] .. starts[k+1] at offsets[k].
  starts := ARRAY[window_start - 86400];
  offsets := ARRAY[o];
  cursor_at := window_start;
  FOREACH edge IN ARRAY ARRAY[window_middle, window_end] LOOP
    WHILE (extract(epoch FROM to_timestamp(edge) AT TIME ZONE zone) - edge)::integer <> o LOOP
      cursor_at := {{schema}}.cron_transition(zone, cursor_at, edge);
      o := (extract(epoch FROM to_timestamp(cursor_at) AT TIME ZONE zone) - cursor_at)::integer;
      starts := starts || cursor_at;
      offsets := offsets || o;
    END LOOP;
    cursor_at := edge;
  END LOOP;

  FOR k IN 1..cardinality(starts) LOOP
    o := offsets[k];
    stretch_end := CASE WHEN k < cardinality(starts) THEN starts[k + 1] ELSE window_end + 86400 END;
    -- The wall-clock times of this day the stretch shows, after `after_s`. Fixed-time jobs run
    -- only in the first pass of a repeated time: `covered` is where earlier stretches ended.
    low := greatest(day_start, starts[k] + o, after_s + 1 + o, covered);
    high := least(day_start + 86400, stretch_end + o);
    IF low < high THEN
      t := {{schema}}.cron_next_time(spec, (low - day_start)::integer);
      IF day_start + t < high THEN
        next_at := least(next_at, day_start + t - o);
      END IF;
    END IF;
    -- A gap before this stretch skips the wall-clock times [start + previous offset, start + o).
    -- A fixed-time job matching one of them runs once, at the end of the gap: croner does so
    -- when the gap ends on the same local day, and Kairos adds the run for gaps that cross
    -- midnight, for the gaps it knows (found by a weekly scan from 1990 to 2100).
    IF spec.fixed_time AND k > 1 AND o > offsets[k - 1] AND starts[k] > after_s THEN
      low := greatest(day_start, starts[k] + offsets[k - 1]);
      high := least(day_start + 86400, starts[k] + o);
      IF low < high AND (starts[k] + o < day_start + 86400 OR starts[k] BETWEEN 631152001 AND 4102099200) THEN
        t := {{schema}}.cron_next_time(spec, (low - day_start)::integer);
        IF day_start + t < high THEN
          next_at := least(next_at, starts[k]);
        END IF;
      END IF;
    END IF;
    IF spec.fixed_time THEN
      covered := greatest(covered, stretch_end + o);
    END IF;
  END LOOP;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_day_next({{schema}}.cron_spec, text, bigint, bigint) IS
  'The earliest fire time (Unix seconds) after after_s of a parsed cron line among the wall-clock times of one local day, with Vixie''s DST rules.';

-- The first fire time of one cron line strictly after `after_s` (Unix seconds), or NULL when
-- there is none before the year 3000 (wall clock), as in croner. Walks the months the month
-- field allows, then the matching days of each, and asks cron_day_next about each day.
CREATE FUNCTION {{schema}}.cron_line_next(spec {{schema}}.cron_spec, zone text, after_s bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- Start the day before: a repeated hour can put fire times of an earlier wall-clock day after `after`.
  start_date date := (to_timestamp(after_s) AT TIME ZONE zone)::date - 1;
  y integer := extract(year FROM start_date);
  m integer := extract(month FROM start_date);
  d integer := extract(day FROM start_date);
  next_month integer;
  first_day date;
  len integer;
  slot integer;
  masks bigint[] := '{}';  -- matching days per (length, weekday of the 1st): 28 kinds of month
  rest bigint;
  day_start bigint;
  day_result record;
  best bigint;
BEGIN
  LOOP
    EXIT WHEN y >= 3000;
    IF NOT m = ANY (spec.months) THEN
      next_month := NULL;
      FOREACH next_month IN ARRAY spec.months LOOP
        EXIT WHEN next_month > m;
      END LOOP;
      IF next_month > m THEN
        m := next_month;
      ELSE
        y := y + 1;
        m := spec.months[1];
      END IF;
      d := 1;
      CONTINUE;
    END IF;
    first_day := make_date(y, m, 1);
    len := CASE WHEN m = 2 THEN CASE WHEN y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0) THEN 29 ELSE 28 END
                WHEN m IN (4, 6, 9, 11) THEN 30 ELSE 31 END;
    slot := (len - 28) * 7 + extract(dow FROM first_day)::integer + 1;
    IF masks[slot] IS NULL THEN
      masks[slot] := {{schema}}.cron_month_days(spec, len, extract(dow FROM first_day)::integer);
    END IF;
    rest := masks[slot] >> d;  -- bit k: day d + k matches
    IF rest = 0 THEN
      m := m % 12 + 1;
      y := y + CASE WHEN m = 1 THEN 1 ELSE 0 END;
      d := 1;
      CONTINUE;
    END IF;
    d := d + round(ln((rest & -rest)::float8) / ln(2))::integer;  -- the lowest set bit
    day_start := (first_day - date '1970-01-01' + d - 1)::bigint * 86400;
    -- No instant of this day's wall clock comes before its midnight minus 14 hours.
    EXIT WHEN best IS NOT NULL AND day_start - 54000 >= best;
    day_result := {{schema}}.cron_day_next(spec, zone, day_start, after_s);
    IF day_result.next_at IS NOT NULL THEN
      best := least(best, day_result.next_at);
      EXIT WHEN day_result.normal;
    END IF;
    d := d + 1;
  END LOOP;
  RETURN best;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_line_next({{schema}}.cron_spec, text, bigint) IS
  'The first fire time (Unix seconds) strictly after after_s of one parsed cron line in `zone`, or NULL before the year 3000.';

-- The first fire time of parsed lines strictly after `after`: the earliest of any line.
CREATE FUNCTION {{schema}}.cron_next_parsed(specs {{schema}}.cron_spec[], zone text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- Fire times are whole seconds: strictly after `after` means at or after its second + 1.
  after_s bigint := floor(extract(epoch FROM after))::bigint;
  spec {{schema}}.cron_spec;
  best bigint;
BEGIN
  FOREACH spec IN ARRAY specs LOOP
    best := least(best, {{schema}}.cron_line_next(spec, zone, after_s));
  END LOOP;
  RETURN to_timestamp(best);
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_next_parsed({{schema}}.cron_spec[], text, timestamptz) IS
  'The first fire time strictly after `after` of parsed cron lines (their union) in a zone returned by cron_zone.';

-- Public API -------------------------------------------------------------------------------

CREATE FUNCTION {{schema}}.cron_validate(expression text, timezone text DEFAULT 'UTC') RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- The order of src/core/cron.ts: the expression must be a string, then the zone, then the syntax.
  IF expression IS NULL THEN
    PERFORM {{schema}}.cron_parse(expression);
  END IF;
  PERFORM {{schema}}.cron_zone(timezone);
  PERFORM {{schema}}.cron_parse(expression);
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_validate(text, text) IS
  'Check a cron expression (5 or 6 fields, @aliases, several lines separated by newlines) and an IANA time zone as Kairos does; raises SQLSTATE 22023 naming the field and the value.';

CREATE FUNCTION {{schema}}.cron_next(expression text, timezone text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  zone text;
  specs {{schema}}.cron_spec[];
BEGIN
  IF expression IS NULL THEN
    PERFORM {{schema}}.cron_parse(expression);
  END IF;
  zone := {{schema}}.cron_zone(timezone);
  specs := {{schema}}.cron_parse(expression);
  IF after IS NULL OR NOT isfinite(after) THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = format('after must be a finite time, not %s', coalesce(after::text, 'NULL'));
  END IF;
  RETURN {{schema}}.cron_next_parsed(specs, zone, after);
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_next(text, text, timestamptz) IS
  'The first fire time of a cron expression in a time zone strictly after `after`, or NULL if there is none before the year 3000. Same results as parseCron(expression, timezone).next(after).';

CREATE FUNCTION {{schema}}.cron_preview(
  expression text, timezone text DEFAULT 'UTC', after timestamptz DEFAULT now(), count integer DEFAULT 10)
RETURNS SETOF timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  zone text;
  specs {{schema}}.cron_spec[];
  cursor_at timestamptz := after;
BEGIN
  IF expression IS NULL THEN
    PERFORM {{schema}}.cron_parse(expression);
  END IF;
  zone := {{schema}}.cron_zone(timezone);
  specs := {{schema}}.cron_parse(expression);
  IF after IS NULL OR NOT isfinite(after) THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = format('after must be a finite time, not %s', coalesce(after::text, 'NULL'));
  END IF;
  IF count IS NULL OR count NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = format('count must be 1-1000, not %s', coalesce(count::text, 'NULL'));
  END IF;
  FOR i IN 1..count LOOP
    cursor_at := {{schema}}.cron_next_parsed(specs, zone, cursor_at);
    EXIT WHEN cursor_at IS NULL;
    RETURN NEXT cursor_at;
  END LOOP;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_preview(text, text, timestamptz, integer) IS
  'The next `count` (1-1000) fire times of a cron expression in a time zone after `after` (default now()), as nextOccurrences() lists them.';
