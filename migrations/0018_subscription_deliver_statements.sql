-- Fewer statements and WAL flushes per delivery call (docs/adr/0023, addendum of 2026-12-03), nothing else
-- changed in what is delivered, in which order or under which lease:
--   * the claim path ran ~13 statements (the claim, then the lease as a second UPDATE, then
--     subscription_number_events, which read the cursor and the channel row twice before numbering);
--     now the claim and the lease are one UPDATE ... FROM (SELECT ... SKIP LOCKED) that also returns the
--     held channel row's cursor, and the numbering of that row is one statement (positions found,
--     step inserted, cursor moved), with the through this transaction already read;
--   * a call that leases nothing and positions nothing (a worker's last claim of a wake-up, which
--     acknowledges its last batch) commits without waiting for its own WAL flush.
-- subscription_number_events stays as it was for state() and the kept path.
CREATE OR REPLACE FUNCTION subscription_deliver(p_owner text, p_lease_ms integer, p_ack text, p_ack_through bigint, p_ack_hold_ms integer, p_keep boolean DEFAULT false)
RETURNS TABLE (
  subscription_id text, status text, topic text, criteria_type text, criteria text, channel_type text,
  endpoint text, payload text, headers text, secret text, organization text, heartbeat_seconds integer,
  timeout_seconds integer, max_count integer, events_count bigint, generation integer, delivered_through bigint,
  batch_to bigint, handshake_done boolean, attempts integer, failing_since timestamptz, last_sent_at timestamptz,
  last_error text, events json
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  claimed text;
  kept text;
  through bigint;
  numbered bigint;
  positioned boolean := false;
  c_type text;
  c_status text;
  done bigint;
  base bigint;
  since bigint;
BEGIN
  IF p_ack IS NOT NULL AND p_keep THEN
    -- Still the holder (fencing: a claimer that took over an expired lease wrote its own owner), and
    -- nothing else holds either row.
    SELECT d.subscription_id INTO kept
      FROM subscription_delivery d JOIN subscription_channel c USING (subscription_id)
     WHERE d.subscription_id = p_ack AND d.lease_owner = p_owner AND c.channel_type = 'rest-hook' AND c.status = 'active'
       FOR NO KEY UPDATE OF d SKIP LOCKED FOR NO KEY UPDATE OF c SKIP LOCKED;
  END IF;
  IF kept IS NOT NULL THEN
    IF EXISTS (SELECT 1 FROM subscription_event WHERE position IS NULL) THEN
      PERFORM subscription_position_events();
      positioned := true;
    END IF;
    -- Holds the channel row already: waits for nothing.
    numbered := subscription_number_events(kept);
    IF numbered > p_ack_through THEN
      UPDATE subscription_delivery SET delivered_through = GREATEST(delivered_through, p_ack_through), batch_to = NULL,
             attempts = 0, failing_since = NULL, last_error = NULL, last_sent_at = now(),
             lease_until = now() + p_lease_ms * interval '1 millisecond'
       WHERE subscription_id = kept;
      claimed := kept;
    END IF;
  END IF;
  IF claimed IS NULL THEN
    IF p_ack IS NOT NULL THEN
      UPDATE subscription_delivery SET delivered_through = GREATEST(delivered_through, p_ack_through), batch_to = NULL,
             attempts = 0, failing_since = NULL, last_error = NULL, last_sent_at = now(),
             next_attempt_at = now() + COALESCE(p_ack_hold_ms, 0) * interval '1 millisecond', lease_owner = NULL, lease_until = NULL
       WHERE subscription_id = p_ack AND lease_owner = p_owner;
    END IF;
    IF EXISTS (SELECT 1 FROM subscription_event WHERE position IS NULL) THEN
      through := subscription_position_events();
      positioned := true;
    ELSE
      through := (SELECT positioned_through FROM subscription_event_cursor);
    END IF;
    -- The claim and its lease in one statement; the channel row's cursor comes back with it (locked by
    -- the subquery, so current), which the numbering below needs.
    UPDATE subscription_delivery d SET lease_owner = p_owner, lease_until = now() + p_lease_ms * interval '1 millisecond'
      FROM (SELECT d2.subscription_id, c2.channel_type, c2.status, c2.numbered_through, c2.events_count, c2.since_seq
            FROM subscription_delivery d2 JOIN subscription_channel c2 USING (subscription_id)
           WHERE d2.next_attempt_at <= now()
             AND (d2.lease_until IS NULL OR d2.lease_until < now())
             AND ((c2.status = 'requested' AND NOT d2.handshake_done)
               OR (c2.channel_type = 'rest-hook' AND c2.status = 'active' AND (c2.events_count > d2.delivered_through
                 OR (c2.numbered_through < through AND EXISTS (
                       SELECT 1 FROM subscription_event e
                        WHERE e.position > c2.numbered_through AND e.position <= through
                          AND c2.subscription_id = ANY (e.subscription_ids) AND e.seq > c2.since_seq))
                 OR (c2.heartbeat_seconds IS NOT NULL AND COALESCE(d2.last_sent_at, '-infinity') + c2.heartbeat_seconds * interval '1 second' <= now()))))
           ORDER BY d2.next_attempt_at LIMIT 1
         FOR UPDATE OF d2 SKIP LOCKED FOR NO KEY UPDATE OF c2 SKIP LOCKED) pick
     WHERE d.subscription_id = pick.subscription_id
    RETURNING pick.subscription_id, pick.channel_type, pick.status, pick.numbered_through, pick.events_count, pick.since_seq
         INTO claimed, c_type, c_status, done, base, since;
    IF claimed IS NULL THEN
      -- Idle: move the cursors of active rest-hook Subscriptions that matched none of the newly
      -- positioned events past them (migration 0014), once one lags by more than 64 positions: below
      -- that the claim's look for its events is a short range scan, and under a steady stream of
      -- writes most claims that find nothing were finding it on every call.
      IF EXISTS (SELECT 1 FROM subscription_channel c4
                  WHERE c4.channel_type = 'rest-hook' AND c4.status = 'active' AND c4.numbered_through < through - 64) THEN
        UPDATE subscription_channel c SET numbered_through = through
          FROM (SELECT c3.subscription_id FROM subscription_channel c3
                 WHERE c3.channel_type = 'rest-hook' AND c3.status = 'active' AND c3.numbered_through < through
                   AND NOT EXISTS (SELECT 1 FROM subscription_event e3
                                    WHERE e3.position > c3.numbered_through AND e3.position <= through
                                      AND c3.subscription_id = ANY (e3.subscription_ids) AND e3.seq > c3.since_seq)
                   FOR NO KEY UPDATE SKIP LOCKED) idle
         WHERE c.subscription_id = idle.subscription_id AND c.numbered_through < through
           AND NOT EXISTS (SELECT 1 FROM subscription_event e
                            WHERE e.position > c.numbered_through AND e.position <= through
                              AND c.subscription_id = ANY (e.subscription_ids) AND e.seq > c.since_seq);
      END IF;
      -- Nothing leased and nothing positioned: what this transaction wrote is an acknowledgement (lost in
      -- a crash of PostgreSQL, the batch is sent again: at-least-once, as after a crash of Concord between
      -- the POST and its acknowledgement) and idle cursors (moved again by the next sweep). Neither needs
      -- its own WAL flush; any later synchronous commit flushes it (docs/adr/0023, addendum).
      IF NOT positioned THEN
        PERFORM set_config('synchronous_commit', 'off', true);
      END IF;
      RETURN;
    END IF;
    -- subscription_number_events' work for the row this transaction holds, without reading the cursor and
    -- the row again: the positions up to through that name it, as one step after events_count. A
    -- websocket Subscription is numbered by its hub's state(); the dispatcher only activates it.
    IF c_type = 'rest-hook' AND c_status = 'active' AND done < through THEN
      WITH found AS (
             SELECT array_agg(e.position ORDER BY e.position) AS positions
               FROM subscription_event e
              WHERE e.position > done AND e.position <= through AND claimed = ANY (e.subscription_ids) AND e.seq > since),
           step AS (
             INSERT INTO subscription_numbering (subscription_id, first_number, last_number, positions)
             SELECT claimed, base + 1, base + cardinality(found.positions), found.positions FROM found WHERE found.positions IS NOT NULL
             RETURNING last_number)
      UPDATE subscription_channel SET numbered_through = through, events_count = COALESCE((SELECT last_number FROM step), base)
       WHERE subscription_id = claimed;
    END IF;
  END IF;
  -- The batch the dispatcher sends: the failed one again (batch_to), else the next max_count events.
  RETURN QUERY
    SELECT c.subscription_id, c.status, c.topic, c.criteria_type, c.criteria, c.channel_type, c.endpoint, c.payload,
           c.headers, c.secret, c.organization, c.heartbeat_seconds, c.timeout_seconds, c.max_count, c.events_count, c.generation,
           d.delivered_through, d.batch_to, d.handshake_done, d.attempts, d.failing_since, d.last_sent_at, d.last_error,
           CASE WHEN c.channel_type = 'rest-hook' AND c.status = 'active' THEN
             (SELECT json_agg(json_build_array(n.event_number, n.topic, n.focus_type, n.focus_id, n.focus_version, n.member_id, n.detail, n.occurred_at) ORDER BY n.event_number)
                FROM subscription_notifications(c.subscription_id, d.delivered_through + 1,
                       COALESCE(d.batch_to, LEAST(c.events_count, d.delivered_through + c.max_count))) n)
           END
      FROM subscription_channel c JOIN subscription_delivery d USING (subscription_id)
     WHERE c.subscription_id = claimed;
END
$$;
