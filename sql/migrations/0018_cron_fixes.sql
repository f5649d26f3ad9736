-- Kairos schema, version 18: cron refusals quote the expression exactly as TypeScript does.
--
-- Why: the property test test/core/cron-property.test.ts (issue #13) compares the SQL cron
-- functions with src/core/cron.ts on random expressions. Fire times agreed; refusal messages did
-- not when the expression held a character that JSON.stringify escapes and cron_quote (0003)
-- did not: control characters other than \n, \r and \t. A field separated by a vertical tab or
-- a form feed (whitespace to both parsers) was shown raw by SQL and as \u000b or \f by
-- TypeScript. Expressions longer than 60 characters holding a character outside the BMP were
-- also cut elsewhere: JavaScript counts UTF-16 code units (such a character is two, and the cut
-- may split it, leaving a lone surrogate that JSON.stringify writes as \udXXX), PostgreSQL
-- counts characters. cron_quote now escapes with to_json (the same escapes as JSON.stringify)
-- and counts and cuts in UTF-16 code units.
--
-- Safety: one function replaced with the same signature, result type, volatility and strictness
-- (grants are kept by CREATE OR REPLACE); it only builds error messages. Messages change only for
-- expressions holding such characters, which are refused anyway. Nothing stored changes.

CREATE OR REPLACE FUNCTION {{schema}}.cron_quote(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  units integer := 0;  -- UTF-16 code units kept so far
  kept text := '';
  c text;
  code integer;
  json text;
BEGIN
  -- describeValue() in src/core/errors.ts: JSON.stringify of the value, cut to 57 code units
  -- and '...' when it is longer than 60.
  IF length(value) + length(regexp_replace(value, '[^\U00010000-\U0010FFFF]', '', 'g')) <= 60 THEN
    RETURN to_json(value)::text;
  END IF;
  FOREACH c IN ARRAY regexp_split_to_array(left(value, 57), '') LOOP
    code := ascii(c);
    IF code > 65535 AND units = 56 THEN
      -- JavaScript's slice keeps the high surrogate alone, which JSON.stringify escapes.
      json := to_json(kept)::text;
      RETURN left(json, -1) || '\u' || to_hex(55296 + ((code - 65536) >> 10)) || '..."';
    END IF;
    EXIT WHEN units + CASE WHEN code > 65535 THEN 2 ELSE 1 END > 57;
    kept := kept || c;
    units := units + CASE WHEN code > 65535 THEN 2 ELSE 1 END;
  END LOOP;
  RETURN to_json(kept || '...')::text;
END;
$$;
COMMENT ON FUNCTION {{schema}}.cron_quote(text) IS
  'Quote a cron expression for an error message, as the TypeScript messages do (JSON.stringify, cut at 60 UTF-16 code units).';
