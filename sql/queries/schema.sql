-- Named queries of the schema dump (src/store/schema-dump.ts, `npm run dump:schema`): the installed
-- objects of schema @schema read from the catalogs, since no pg_dump of the server's version is at
-- hand everywhere. Day partitions of the history (`<table>_YYYYMMDD`, made by history_prepare) are left
-- out with everything that hangs off them: which days exist depends on the day of installation.
-- Only PostgreSQL 13+ catalogs (tgparentid) are used, as Kairos supports 13+.

-- name: schemaDumpInfo
-- The server's major version, the schema's owner (its own privileges are implied, so the dump
-- leaves them out) and the schema version the migrations reached.
-- Not null: major, owner
SELECT current_setting('server_version_num')::int / 10000 AS major,
       pg_get_userbyid(n.nspowner) AS owner,
       (SELECT max(m.version) FROM {{schema}}.migrations m) AS version
  FROM pg_namespace n
 WHERE n.nspname = @schema;

-- name: schemaDumpRelations
-- Tables, partitioned tables, views and sequences, with what a CREATE statement needs.
-- Not null: relkind, persistence
SELECT c.relname, c.relkind::text AS relkind, c.relispartition AS is_partition,
       c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls, c.reloptions, c.relpersistence::text AS persistence,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       (SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) AS parent,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS view_def
  FROM pg_class c
 WHERE c.relnamespace = @schema::regnamespace
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
   AND NOT (c.relispartition AND c.relname ~ '_[0-9]{8}$');

-- name: schemaDumpColumns
-- Columns of the tables (not of partitions: they are the parent's), views and composite types.
-- Not null: relkind, type, identity, generated
SELECT c.relname, c.relkind::text AS relkind, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, a.attidentity::text AS identity, a.attgenerated::text AS generated,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       CASE WHEN a.attcollation <> t.typcollation THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END AS collation
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relnamespace = @schema::regnamespace
   AND c.relkind IN ('r', 'p', 'c', 'f') AND NOT c.relispartition
 ORDER BY c.relname, a.attnum;

-- name: schemaDumpConstraints
-- Constraints defined on a table itself (a partition's copies of its parent's are implied).
-- PostgreSQL 18 records NOT NULL as constraints too (contype 'n'); the columns already say it.
-- Not null: contype, def
SELECT c.relname, k.conname, k.contype::text AS contype, pg_get_constraintdef(k.oid) AS def
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
 WHERE c.relnamespace = @schema::regnamespace
   AND k.contype <> 'n' AND k.conparentid = 0 AND k.conislocal
   AND NOT (c.relispartition AND c.relname ~ '_[0-9]{8}$');

-- name: schemaDumpIndexes
-- Indexes that are not a constraint's (those come with ADD CONSTRAINT) and not a partition's
-- copy of its parent's index.
-- Not null: def
SELECT c.relname, i.relname AS indexname, pg_get_indexdef(i.oid) AS def
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class c ON c.oid = x.indrelid
 WHERE c.relnamespace = @schema::regnamespace
   AND NOT i.relispartition
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid AND k.contype IN ('p', 'u', 'x'))
   AND NOT (c.relispartition AND c.relname ~ '_[0-9]{8}$');

-- name: schemaDumpPolicies
-- Row-level security policies, with their roles by name (0: PUBLIC).
-- Not null: cmd, roles
SELECT c.relname, p.polname, p.polpermissive AS permissive, p.polcmd::text AS cmd,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END FROM unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
  FROM pg_policy p
  JOIN pg_class c ON c.oid = p.polrelid
 WHERE c.relnamespace = @schema::regnamespace
   AND NOT (c.relispartition AND c.relname ~ '_[0-9]{8}$');

-- name: schemaDumpTriggers
-- User triggers (not the internal ones of foreign keys, nor a partition's clones of its parent's).
-- Not null: def
SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) AS def,
       CASE t.tgenabled WHEN 'O' THEN NULL WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' WHEN 'A' THEN 'ENABLE ALWAYS' END AS state
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = @schema::regnamespace
   AND NOT t.tgisinternal AND t.tgparentid = 0
   AND NOT (c.relispartition AND c.relname ~ '_[0-9]{8}$');

-- name: schemaDumpSequences
-- Sequences and the column that owns each (an identity column's, or OWNED BY).
-- Not null: type, start, increment, min, max, cache
SELECT c.relname, format_type(s.seqtypid, NULL) AS type, s.seqstart::text AS start, s.seqincrement::text AS increment,
       s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
       (SELECT o.relname || '.' || a.attname || CASE d.deptype WHEN 'i' THEN ' (identity)' ELSE '' END
          FROM pg_depend d JOIN pg_class o ON o.oid = d.refobjid
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
           AND d.deptype IN ('a', 'i')) AS owned_by
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid
 WHERE c.relnamespace = @schema::regnamespace;

-- name: schemaDumpTypes
-- Types of their own (composite, enum, domain, range); not the row types of tables or array types.
-- Not null: typtype
SELECT t.typname, t.typtype::text AS typtype,
       CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT quote_literal(e.enumlabel) FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base,
       CASE WHEN t.typtype = 'd' THEN ARRAY(SELECT 'CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid)
                                              FROM pg_constraint k WHERE k.contypid = t.oid ORDER BY k.conname) END AS checks
  FROM pg_type t
 WHERE t.typnamespace = @schema::regnamespace
   AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'));

-- name: schemaDumpFunctions
-- Functions and procedures: the signature (regprocedure: argument types only), the kind and the
-- definition. pg_get_functiondef refuses aggregates, so they get no body here.
-- Not null: signature, kind
SELECT p.oid::regprocedure::text AS signature, p.prokind::text AS kind, pg_get_function_result(p.oid) AS result,
       CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS def
  FROM pg_proc p
 WHERE p.pronamespace = @schema::regnamespace;

-- name: schemaDumpGrants
-- Privileges by object and grantee, the owner's own left out (it holds them all by default). A
-- NULL acl means the defaults, which acldefault spells out: on a function, EXECUTE for PUBLIC.
-- Not null: kind, name, grantee, grantable, privileges
WITH objects AS (
  SELECT 'SCHEMA' AS kind, quote_ident(n.nspname) AS name, NULL::text AS col, coalesce(n.nspacl, acldefault('n', n.nspowner)) AS acl, n.nspowner AS owner
    FROM pg_namespace n WHERE n.oid = @schema::regnamespace
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname) || '.' || quote_ident(c.relname), NULL,
         coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner)), c.relowner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relnamespace = @schema::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND NOT (c.relispartition AND c.relname ~ '_[0-9]{8}$')
  UNION ALL
  SELECT 'TABLE', quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(a.attname), a.attacl, c.relowner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
   WHERE c.relnamespace = @schema::regnamespace AND NOT (c.relispartition AND c.relname ~ '_[0-9]{8}$')
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.oid::regprocedure::text, NULL,
         coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner
    FROM pg_proc p WHERE p.pronamespace = @schema::regnamespace
  UNION ALL
  SELECT 'TYPE', format_type(t.oid, NULL), NULL, coalesce(t.typacl, acldefault('T', t.typowner)), t.typowner
    FROM pg_type t
   WHERE t.typnamespace = @schema::regnamespace
     AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
)
SELECT o.kind, o.name, o.col,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee,
       a.is_grantable AS grantable,
       array_agg(a.privilege_type ORDER BY a.privilege_type) AS privileges
  FROM objects o CROSS JOIN LATERAL aclexplode(o.acl) a
 WHERE a.grantee <> o.owner
 GROUP BY 1, 2, 3, 4, 5;

-- name: schemaDumpComments
-- Comments on the schema and on anything in it, named as COMMENT ON names them.
SELECT upper(i.type) AS type, i.identity, d.description
  FROM pg_description d
  CROSS JOIN LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) i
 WHERE (i.schema = @schema AND i.identity !~ '_[0-9]{8}($|[. ])')
    OR (d.classoid = 'pg_namespace'::regclass AND d.objoid = @schema::regnamespace);
