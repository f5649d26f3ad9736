-- Kairos schema, version 17: nodes act on no NOTIFY content they have not authenticated.
--
-- Why: PostgreSQL lets any role that can connect NOTIFY (and LISTEN on) any channel, and node ids
-- are visible to all in pg_stat_activity.application_name. A LOGIN role without a single grant on
-- this schema could cancel a running run, make an idle node run a task handler with a payload of
-- its choosing (and so have the node skip the real run that later got that id), and make
-- clusterEvents nodes emit status changes that never happened (security issue #12). From this
-- version on (src/engine/notices.ts and docs/architecture.md, "NOTIFY authentication"):
--   * a cancel NOTIFY is a hint: the node reads which of its runs are flagged, and why, from
--     `runs` (`cancel_reason`, below, instead of the reason the NOTIFY carries);
--   * a hand-off NOTIFY carries a single-use random token the idle node chose when it armed
--     (`handoffs.token`, below): a message without the node's current token is not trusted,
--     and the node reads its hand-off row instead;
--   * status events (clusterEvents) are signed with an HMAC under an installation secret
--     (`notify_secret`, below) that only the schema owner (the nodes' role) can read.
--
-- Safety: additive. The two new columns are nullable without a default (no rewrite of `runs`,
-- which holds only live runs anyway); the new table has one row. cancel_run_details keeps its
-- signature, its grants and the fields of its NOTIFY, so nodes of version 16 still stop their
-- runs during a rolling upgrade; their hand-offs carry no token and are read from the row by
-- the newer nodes (one more round trip, no run lost); their status events are unsigned, so
-- newer nodes do not re-emit them (older nodes still read the newer ones' signed events, whose
-- fields are the same plus the signature's). The token and the secret are kept from
-- every role but the owner twice over: no grant (a blanket `GRANT … ON ALL TABLES` by an operator
-- re-running an old grant would give one) and row-level security without a policy (which then
-- still shows no row to anyone but the owner, superusers and BYPASSRLS roles).

-- Why a running run is to stop: the user's reason (cancel_run, Kairos.cancel), read by the node
-- instead of the NOTIFY's. NULL: the node records 'cancelled'.
ALTER TABLE {{schema}}.runs ADD COLUMN cancel_reason text;

-- The token of the node's current arming (src/engine/handoff.ts): crypto.randomUUID() in the
-- node, sent back by insertRunHandoff in the NOTIFY of the one hand-off that takes the row.
ALTER TABLE {{schema}}.handoffs ADD COLUMN token uuid;
ALTER TABLE {{schema}}.handoffs ENABLE ROW LEVEL SECURITY;

-- The installation's key for status events: 244 random bits from two v4 UUIDs (gen_random_uuid
-- is core since PostgreSQL 13; no pgcrypto). Each node reads it at start when clusterEvents is on.
CREATE TABLE {{schema}}.notify_secret (
  one    boolean PRIMARY KEY DEFAULT true CHECK (one),
  secret text NOT NULL DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
);
INSERT INTO {{schema}}.notify_secret DEFAULT VALUES;
ALTER TABLE {{schema}}.notify_secret ENABLE ROW LEVEL SECURITY;

-- Cancel a run (0004): now also records the reason for the node to read.
CREATE OR REPLACE FUNCTION {{schema}}.cancel_run_details(target bigint, at timestamptz DEFAULT NULL, reason text DEFAULT NULL)
RETURNS TABLE (previous text, task text, key text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r {{schema}}.runs;
BEGIN
  SELECT * INTO r FROM {{schema}}.runs x WHERE x.run_id = target FOR UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  IF r.status = 'pending' THEN
    -- The history row first: 0014's policy must still see whose run it is.
    INSERT INTO {{schema}}.job_logs (job_id, run_id, task, queue, key, attempt, status, scheduled_at, finished_at, message, payload, owner)
    VALUES (r.job_id, r.run_id, r.task, r.queue, r.key, r.attempt, 'cancelled', r.scheduled_at, coalesce(at, now()),
            coalesce(reason, 'cancelled before it started'), r.payload, r.owner);
    DELETE FROM {{schema}}.runs x WHERE x.run_id = target;
  ELSE
    UPDATE {{schema}}.runs x SET cancel_requested = true, cancel_reason = reason WHERE x.run_id = target;
    -- A hint only (anyone can send one): the node reads the flag and the reason above. The
    -- fields stay for nodes of version 16 during a rolling upgrade.
    PERFORM pg_notify({{channel}}, json_build_object('t', 'cancel', 'run', r.run_id, 'node', r.node_id, 'reason', reason)::text);
  END IF;
  RETURN QUERY SELECT r.status, r.task, r.key;
END $$;

-- Grants: cancel_run runs as its caller, who may now set the reason with the flag (as version 2
-- allowed the flag). Nothing on the two secret-holding tables to anyone.
DO $$
DECLARE
  s text := {{lit_schema}};
  r text;
BEGIN
  EXECUTE format('REVOKE ALL ON %I.handoffs, %I.notify_secret FROM PUBLIC', s, s);
  FOREACH r IN ARRAY ARRAY[{{lit_role_scheduler}}, {{lit_role_monitor}}] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('REVOKE ALL ON %I.handoffs, %I.notify_secret FROM %I', s, s, r);
    END IF;
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{lit_role_scheduler}}) THEN
    EXECUTE format('GRANT UPDATE (cancel_reason) ON %I.runs TO %I', s, {{lit_role_scheduler}});
  END IF;
END $$;
