-- The delivery call answers each event once, however many of the claimed Subscriptions carry it
-- (docs/adr/0027, addendum "each event once per call"). subscription_deliver_many (migration 0020)
-- answers one row per claimed Subscription with its batch rendered as JSON, so an event that N claimed
-- Subscriptions carry is looked up, rendered, sent, parsed and decoded N times; with ten Subscriptions
-- matching every write that batch read and its answer were the largest part of PostgreSQL's cost per
-- write (bench/RESULTS.md, "2026-12-06: each event once per delivery call"). subscription_deliver_many_shared
-- answers:
--   * one row per claimed Subscription: its state, and its batch as two arrays, the numbers and the
--     positions of its events (numbers in order; a position whose event is gone is left out by the
--     caller, as 0020's join left it out);
--   * on the first of those rows, every distinct event the batches carry, once, as one JSON array of
--     [position, topic, focus type, focus id, focus version, member, detail, occurred at], the time already
--     the instant the notifications show (one array to parse, not a row of columns per event).
-- The acknowledgements, positioning, claim and numbering are 0020's, unchanged, moved into
-- subscription_claim_numbered, which both functions call: an instance not yet upgraded keeps calling
-- subscription_deliver_many, with the same answers under the same locks in the same order.

-- 0020's steps before its batch read: acknowledges, positions, claims and leases up to p_limit due
-- Subscriptions, numbers the claimed active rest-hook ones; answers the claimed ids (NULL: none).
CREATE FUNCTION subscription_claim_numbered(p_lease_owner text, p_lease_ms integer, p_ack_ids text[], p_ack_owners text[],
                                            p_ack_through bigint[], p_ack_hold_ms integer[], p_limit integer)
RETURNS text[] LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_claimed text[];
  v_through bigint;
BEGIN
  IF cardinality(p_ack_ids) > 0 THEN
    -- Migration 0018's acknowledgements: each counts only under the lease it was sent with (fencing).
    UPDATE subscription_delivery d
       SET delivered_through = GREATEST(d.delivered_through, a.ack_through), batch_to = NULL,
           attempts = 0, failing_since = NULL, last_error = NULL, last_sent_at = now(),
           next_attempt_at = now() + COALESCE(a.ack_hold_ms, 0) * interval '1 millisecond', lease_owner = NULL, lease_until = NULL
      FROM unnest(p_ack_ids, p_ack_owners, p_ack_through, p_ack_hold_ms) AS a(ack_id, ack_owner, ack_through, ack_hold_ms)
     WHERE d.subscription_id = a.ack_id AND d.lease_owner = a.ack_owner;
  END IF;
  IF p_limit IS NULL OR p_limit <= 0 THEN
    RETURN NULL;
  END IF;
  IF EXISTS (SELECT 1 FROM subscription_event WHERE position IS NULL) THEN
    v_through := subscription_position_events();
  ELSE
    v_through := (SELECT positioned_through FROM subscription_event_cursor);
  END IF;
  -- 0018's claim (the same due test, order and SKIP LOCKED on both rows) and its lease, in one statement:
  -- the update joins the delivery rows the subquery locked.
  WITH leased AS (
    UPDATE subscription_delivery d SET lease_owner = p_lease_owner, lease_until = now() + p_lease_ms * interval '1 millisecond'
      FROM (SELECT d2.subscription_id
              FROM subscription_delivery d2 JOIN subscription_channel c2 USING (subscription_id)
             WHERE d2.next_attempt_at <= now()
               AND (d2.lease_until IS NULL OR d2.lease_until < now())
               AND ((c2.status = 'requested' AND NOT d2.handshake_done)
                 OR (c2.channel_type = 'rest-hook' AND c2.status = 'active' AND (c2.events_count > d2.delivered_through
                   OR (c2.numbered_through < v_through AND EXISTS (
                         SELECT 1 FROM subscription_event e
                          WHERE e.position > c2.numbered_through AND e.position <= v_through
                            AND c2.subscription_id = ANY (e.subscription_ids) AND e.seq > c2.since_seq))
                   OR (c2.heartbeat_seconds IS NOT NULL AND COALESCE(d2.last_sent_at, '-infinity') + c2.heartbeat_seconds * interval '1 second' <= now()))))
             ORDER BY d2.next_attempt_at LIMIT p_limit
               FOR UPDATE OF d2 SKIP LOCKED FOR NO KEY UPDATE OF c2 SKIP LOCKED) due
     WHERE d.subscription_id = due.subscription_id
    RETURNING d.subscription_id)
  SELECT array_agg(leased.subscription_id) INTO v_claimed FROM leased;
  IF v_claimed IS NULL THEN
    -- Idle: migration 0016's sweep, unchanged.
    IF EXISTS (SELECT 1 FROM subscription_channel c4
                WHERE c4.channel_type = 'rest-hook' AND c4.status = 'active' AND c4.numbered_through < v_through - 64) THEN
      UPDATE subscription_channel c SET numbered_through = v_through
        FROM (SELECT c3.subscription_id FROM subscription_channel c3
               WHERE c3.channel_type = 'rest-hook' AND c3.status = 'active' AND c3.numbered_through < v_through
                 AND NOT EXISTS (SELECT 1 FROM subscription_event e3
                                  WHERE e3.position > c3.numbered_through AND e3.position <= v_through
                                    AND c3.subscription_id = ANY (e3.subscription_ids) AND e3.seq > c3.since_seq)
                 FOR NO KEY UPDATE SKIP LOCKED) idle
       WHERE c.subscription_id = idle.subscription_id AND c.numbered_through < v_through
         AND NOT EXISTS (SELECT 1 FROM subscription_event e
                          WHERE e.position > c.numbered_through AND e.position <= v_through
                            AND c.subscription_id = ANY (e.subscription_ids) AND e.seq > c.since_seq);
    END IF;
    RETURN NULL;
  END IF;
  -- subscription_number_events for every claimed active rest-hook Subscription at once (a websocket one is
  -- numbered by its hub's state()). The claim holds each channel row FOR NO KEY UPDATE, so this statement
  -- (a snapshot taken after the claim) reads the latest cursor of each and waits for nothing. Positions up
  -- to v_through are committed and visible (given by this transaction or by a positioner that committed
  -- before the read of the cursor). Each Subscription's new events get the numbers after its events_count,
  -- in position order, as one step; its cursor moves to v_through even when it matched none of them.
  WITH cur AS (
    SELECT c.subscription_id, c.numbered_through, c.events_count, c.since_seq
      FROM subscription_channel c
     WHERE c.subscription_id = ANY (v_claimed) AND c.channel_type = 'rest-hook' AND c.status = 'active' AND c.numbered_through < v_through),
  found AS (
    SELECT k.subscription_id, array_agg(e.position ORDER BY e.position) AS positions
      FROM cur k JOIN subscription_event e
        ON e.position > k.numbered_through AND e.position <= v_through AND k.subscription_id = ANY (e.subscription_ids) AND e.seq > k.since_seq
     GROUP BY k.subscription_id),
  step AS (
    INSERT INTO subscription_numbering (subscription_id, first_number, last_number, positions)
    SELECT k.subscription_id, k.events_count + 1, k.events_count + cardinality(f.positions), f.positions
      FROM cur k JOIN found f USING (subscription_id))
  UPDATE subscription_channel c SET numbered_through = v_through, events_count = k.events_count + COALESCE(cardinality(f.positions), 0)
    FROM cur k LEFT JOIN found f USING (subscription_id)
   WHERE c.subscription_id = k.subscription_id;
  RETURN v_claimed;
END
$$;

-- 0020's function, its first steps now the helper's (same statements, same answers).
CREATE OR REPLACE FUNCTION subscription_deliver_many(p_lease_owner text, p_lease_ms integer, p_ack_ids text[], p_ack_owners text[],
                                                     p_ack_through bigint[], p_ack_hold_ms integer[], p_limit integer)
RETURNS TABLE (
  subscription_id text, status text, topic text, criteria_type text, criteria text, channel_type text,
  endpoint text, payload text, headers text, secret text, organization text, heartbeat_seconds integer,
  timeout_seconds integer, max_count integer, events_count bigint, generation integer, delivered_through bigint,
  batch_to bigint, handshake_done boolean, attempts integer, failing_since timestamptz, last_sent_at timestamptz,
  last_error text, events json
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_claimed text[];
BEGIN
  v_claimed := subscription_claim_numbered(p_lease_owner, p_lease_ms, p_ack_ids, p_ack_owners, p_ack_through, p_ack_hold_ms, p_limit);
  IF v_claimed IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
    WITH claimed AS (
      SELECT c.subscription_id, c.status, c.topic, c.criteria_type, c.criteria, c.channel_type, c.endpoint, c.payload,
             c.headers, c.secret, c.organization, c.heartbeat_seconds, c.timeout_seconds, c.max_count, c.events_count, c.generation,
             d.delivered_through, d.batch_to, d.handshake_done, d.attempts, d.failing_since, d.last_sent_at, d.last_error,
             d.next_attempt_at, d.delivered_through + 1 AS n_from,
             COALESCE(d.batch_to, LEAST(c.events_count, d.delivered_through + c.max_count)) AS n_to
        FROM subscription_channel c JOIN subscription_delivery d USING (subscription_id)
       WHERE c.subscription_id = ANY (v_claimed)),
    batch AS (
      SELECT k.subscription_id,
             json_agg(json_build_array(s.first_number + o.i - 1, e.topic, e.focus_type, e.focus_id, e.focus_version, e.member_id, e.detail, e.occurred_at)
                      ORDER BY s.first_number + o.i - 1) AS events
        FROM claimed k
        JOIN subscription_numbering s
          ON s.subscription_id = k.subscription_id
         AND s.first_number >= COALESCE((SELECT max(b.first_number) FROM subscription_numbering b
                                          WHERE b.subscription_id = k.subscription_id AND b.first_number <= k.n_from), 0)
         AND s.first_number <= k.n_to
       CROSS JOIN LATERAL unnest(s.positions) WITH ORDINALITY AS o(position, i)
        JOIN subscription_event e ON e.position = o.position
       WHERE k.channel_type = 'rest-hook' AND k.status = 'active' AND k.n_from <= k.n_to
         AND s.first_number + o.i - 1 BETWEEN k.n_from AND k.n_to
       GROUP BY k.subscription_id)
    SELECT k.subscription_id, k.status, k.topic, k.criteria_type, k.criteria, k.channel_type, k.endpoint, k.payload,
           k.headers, k.secret, k.organization, k.heartbeat_seconds, k.timeout_seconds, k.max_count, k.events_count, k.generation,
           k.delivered_through, k.batch_to, k.handshake_done, k.attempts, k.failing_since, k.last_sent_at, k.last_error, b.events
      FROM claimed k LEFT JOIN batch b USING (subscription_id)
     ORDER BY k.next_attempt_at;
END
$$;

-- The call dispatchers of this version make: the same steps, each batch as numbers and positions, and
-- each event the batches carry once.
CREATE FUNCTION subscription_deliver_many_shared(p_lease_owner text, p_lease_ms integer, p_ack_ids text[], p_ack_owners text[],
                                                 p_ack_through bigint[], p_ack_hold_ms integer[], p_limit integer)
RETURNS TABLE (
  subscription_id text, status text, topic text, criteria_type text, criteria text, channel_type text,
  endpoint text, payload text, headers text, secret text, organization text, heartbeat_seconds integer,
  timeout_seconds integer, max_count integer, events_count bigint, generation integer, delivered_through bigint,
  batch_to bigint, handshake_done boolean, attempts integer, failing_since timestamptz, last_sent_at timestamptz,
  last_error text, batch_numbers bigint[], batch_positions bigint[], events json
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_claimed text[];
BEGIN
  v_claimed := subscription_claim_numbered(p_lease_owner, p_lease_ms, p_ack_ids, p_ack_owners, p_ack_through, p_ack_hold_ms, p_limit);
  IF v_claimed IS NULL THEN
    RETURN;
  END IF;
  -- 0020's batch read, the events kept apart: each (Subscription, number, position) of every batch from the
  -- steps that cover its range, then each distinct position's event once (one index probe and one rendering,
  -- not one per Subscription that carries it), on the first row.
  RETURN QUERY
    WITH claimed AS (
      SELECT c.subscription_id, c.status, c.topic, c.criteria_type, c.criteria, c.channel_type, c.endpoint, c.payload,
             c.headers, c.secret, c.organization, c.heartbeat_seconds, c.timeout_seconds, c.max_count, c.events_count, c.generation,
             d.delivered_through, d.batch_to, d.handshake_done, d.attempts, d.failing_since, d.last_sent_at, d.last_error,
             d.next_attempt_at, d.delivered_through + 1 AS n_from,
             COALESCE(d.batch_to, LEAST(c.events_count, d.delivered_through + c.max_count)) AS n_to
        FROM subscription_channel c JOIN subscription_delivery d USING (subscription_id)
       WHERE c.subscription_id = ANY (v_claimed)),
    pairs AS (
      SELECT k.subscription_id, s.first_number + o.i - 1 AS n, o.position
        FROM claimed k
        JOIN subscription_numbering s
          ON s.subscription_id = k.subscription_id
         AND s.first_number >= COALESCE((SELECT max(b.first_number) FROM subscription_numbering b
                                          WHERE b.subscription_id = k.subscription_id AND b.first_number <= k.n_from), 0)
         AND s.first_number <= k.n_to
       CROSS JOIN LATERAL unnest(s.positions) WITH ORDINALITY AS o(position, i)
       WHERE k.channel_type = 'rest-hook' AND k.status = 'active' AND k.n_from <= k.n_to
         AND s.first_number + o.i - 1 BETWEEN k.n_from AND k.n_to),
    batch AS (
      SELECT p.subscription_id, array_agg(p.n ORDER BY p.n) AS numbers, array_agg(p.position ORDER BY p.n) AS positions
        FROM pairs p GROUP BY p.subscription_id),
    shared AS (
      SELECT json_agg(json_build_array(e.position, e.topic, e.focus_type, e.focus_id, e.focus_version, e.member_id, e.detail,
                                       to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))) AS events
        FROM subscription_event e
       WHERE e.position IN (SELECT DISTINCT p.position FROM pairs p))
    SELECT k.subscription_id, k.status, k.topic, k.criteria_type, k.criteria, k.channel_type, k.endpoint, k.payload,
           k.headers, k.secret, k.organization, k.heartbeat_seconds, k.timeout_seconds, k.max_count, k.events_count, k.generation,
           k.delivered_through, k.batch_to, k.handshake_done, k.attempts, k.failing_since, k.last_sent_at, k.last_error,
           b.numbers, b.positions,
           CASE WHEN row_number() OVER (ORDER BY k.next_attempt_at) = 1 THEN (SELECT x.events FROM shared x) END
      FROM claimed k LEFT JOIN batch b USING (subscription_id)
     ORDER BY k.next_attempt_at;
END
$$;

-- Each pooled connection plans these functions' statements for itself: five custom plans per statement before
-- the generic one, and some (the cursor's update) planned again at every call. Delivery calls go out over any
-- of the pool's connections, so planning took ~150-180 µs of a ~1,600-1,800 µs call in the closed loop (bench/RESULTS.md,
-- "2026-12-06: each event once per delivery call"). Their statements' plans do not depend on the values (ids,
-- positions and counts that select rows through indexes), so each connection plans each statement once.
ALTER FUNCTION subscription_deliver_many_shared(text, integer, text[], text[], bigint[], integer[], integer) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION subscription_position_events() SET plan_cache_mode = force_generic_plan;
