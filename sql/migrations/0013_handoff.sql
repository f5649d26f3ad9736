-- Kairos schema, version 13: hand-off of a new run to an idle node.
--
-- Why: with an idle node, a run enqueued "now" went insert + commit → NOTIFY → the node's claim
-- + commit → start. The claim is a second round trip and a second commit on the path, a third of
-- the enqueue→start latency on the 2-core bench machine. A node that has nothing to do says so
-- here (one row, "armed"); a single enqueue that finds an armed node takes the row and inserts its
-- run already running on that node (attempt 1, leased, exactly as a claim would leave it), and the
-- NOTIFY carries the run itself, so the node starts it without a query. One row takes one run:
-- the node arms again only once idle again, so a hand-off never exceeds the node's concurrency by
-- more than the one run it buffers.
--
-- Safety: the run is never pending, so no other node can claim it; the fencing token (attempt)
-- and the lease are those of a claim. If the node dies, the lease runs out and the rescuer hands
-- the run back like any claimed run. If the NOTIFY is lost (the listening connection dropped),
-- `run_id` below says which run was handed over, and the node fetches it on reconnect.
CREATE TABLE {{schema}}.handoffs (
  node_id  text PRIMARY KEY REFERENCES {{schema}}.nodes ON DELETE CASCADE,
  -- What the node runs: a run of another queue or task is never handed to it.
  queues   text[] NOT NULL,
  tasks    text[] NOT NULL,
  lease_ms bigint NOT NULL CHECK (lease_ms > 0),
  -- An armed row of a node whose heartbeat is older than this is ignored (the node died idle).
  stale_ms bigint NOT NULL CHECK (stale_ms > 0),
  -- NULL: armed (the node is idle and takes one run). Otherwise the run handed over.
  run_id   bigint,
  armed_at timestamptz NOT NULL DEFAULT now()
);

-- A handed-over run is inserted running: only pending runs need a node to claim them.
CREATE OR REPLACE FUNCTION {{schema}}.notify_new_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify({{channel}}, json_build_object('t', 'runs', 'q', queue, 'at', min(run_at))::text)
     FROM new_runs WHERE status = 'pending' GROUP BY queue;
  RETURN NULL;
END $$;
