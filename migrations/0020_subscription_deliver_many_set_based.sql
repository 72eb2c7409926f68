-- subscription_deliver_many (migration 0018, docs/adr/0027) with its per-Subscription steps done once for
-- all the Subscriptions a call claims (docs/adr/0027, addendum "set-based"). Before, a call claiming eight
-- Subscriptions ran subscription_number_events once per Subscription (a look at the cursor, two reads of the
-- channel row, the search for its events, its step's insert, its cursor's update: ~6 statements each, every
-- one with its own executor start-up) and read each batch through a subplan per row. Now:
--   * the claim and its lease are one statement (the lease's update joins the rows the claim locked);
--   * the numbering is one statement for every claimed active rest-hook Subscription: each one's events
--     after its cursor found by an index range on position, one step inserted per Subscription that has
--     any, and one update of the cursors (numbered_through, events_count) of all of them;
--   * every batch is read in one statement (the numbering steps that cover each range, their positions,
--     the events at them), grouped per Subscription.
-- What is numbered, leased and answered is the same as in 0018, under the same locks in the same order
-- (the numbering and the batch read run on channel rows the claim holds FOR NO KEY UPDATE and wait for
-- nothing); the signature is unchanged, so instances not yet upgraded call this body and get the same
-- answers. subscription_deliver and subscription_number_events (state(), $events, the websocket hub, older
-- instances) are unchanged: they take the same row lock before numbering, so either numbers a Subscription
-- only after the other's numbering committed.
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
    RETURN;
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
    RETURN;
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
  -- Every batch in one statement: the failed one again (batch_to), else the next max_count events; from the
  -- step holding the range's first number (the last one starting at or before it: an index range, not every
  -- step), as subscription_notifications reads one.
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
