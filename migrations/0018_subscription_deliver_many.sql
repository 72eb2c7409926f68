-- One delivery transaction for several Subscriptions of a wake-up (docs/adr/0027). A delivery call's
-- cost is mostly fixed (its commit, its round trip, the executor start-up of a dozen statements, the
-- claim's look at every Subscription; docs/adr/0023's addendum), and subscription_deliver serves one
-- Subscription per call. subscription_deliver_many acknowledges every batch its caller delivered since
-- its last call (each under the lease it was sent with) and leases up to p_limit due Subscriptions,
-- numbering each and answering each one's batch: one commit, one round trip, one positioning and one
-- claim scan for all of them.
--
-- subscription_deliver (migrations 0014, 0016) stays: an instance not yet upgraded keeps calling it,
-- and both lease the same rows under the same rules (lease_owner, lease_until, SKIP LOCKED), so
-- instances of both versions share a database.
--
-- Lock order (docs/adr/0021), as in subscription_deliver: the acknowledgements wait only for delivery
-- rows, and only for rows the caller leased (lease_owner is one of its own lease tokens: no other
-- caller's acknowledgements can match them, so two calls never wait for each other's acknowledged
-- rows); positioning then waits for the cursor row only; the claim waits for nothing (both rows SKIP
-- LOCKED); the numbering of each claimed Subscription then holds its row lock already. Nothing that
-- holds the cursor row ever waits for a Subscription's row.
CREATE FUNCTION subscription_deliver_many(p_lease_owner text, p_lease_ms integer, p_ack_ids text[], p_ack_owners text[],
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
    -- Each acknowledgement counts only if its sender still holds the lease it was sent under (fencing:
    -- a claimer that took over an expired lease wrote its own token). Released, with the batch window's
    -- hold; a Subscription with more events due is then due at once and may be claimed again below,
    -- after those that waited longer (oldest due first).
    UPDATE subscription_delivery d
       SET delivered_through = GREATEST(d.delivered_through, a.ack_through), batch_to = NULL,
           attempts = 0, failing_since = NULL, last_error = NULL, last_sent_at = now(),
           next_attempt_at = now() + COALESCE(a.ack_hold_ms, 0) * interval '1 millisecond', lease_owner = NULL, lease_until = NULL
      FROM unnest(p_ack_ids, p_ack_owners, p_ack_through, p_ack_hold_ms) AS a(ack_id, ack_owner, ack_through, ack_hold_ms)
     WHERE d.subscription_id = a.ack_id AND d.lease_owner = a.ack_owner;
  END IF;
  IF p_limit IS NULL OR p_limit <= 0 THEN
    -- Acknowledgements only (a dispatcher stopping, or with every slot busy).
    RETURN;
  END IF;
  -- The check subscription_position_events() starts with, inline: most calls have nothing to position.
  IF EXISTS (SELECT 1 FROM subscription_event WHERE position IS NULL) THEN
    v_through := subscription_position_events();
  ELSE
    v_through := (SELECT positioned_through FROM subscription_event_cursor);
  END IF;
  -- subscription_deliver's claim, up to p_limit rows.
  SELECT array_agg(due.subscription_id) INTO v_claimed FROM (
    SELECT d2.subscription_id
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
       FOR UPDATE OF d2 SKIP LOCKED FOR NO KEY UPDATE OF c2 SKIP LOCKED) due;
  IF v_claimed IS NULL THEN
    -- Idle: migration 0016's sweep, once an active rest-hook Subscription's cursor lags by more than 64
    -- positions (its rows SKIP LOCKED, checked again under the lock).
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
  UPDATE subscription_delivery SET lease_owner = p_lease_owner, lease_until = now() + p_lease_ms * interval '1 millisecond'
   WHERE subscription_id = ANY (v_claimed);
  -- Each claimed row is locked already (the claim): the numbering waits for nothing. A websocket
  -- Subscription is numbered by its hub's state(); the dispatcher only activates it.
  PERFORM subscription_number_events(c.subscription_id)
     FROM subscription_channel c WHERE c.subscription_id = ANY (v_claimed) AND c.channel_type = 'rest-hook' AND c.status = 'active';
  -- Each Subscription's batch: the failed one again (batch_to), else the next max_count events.
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
     WHERE c.subscription_id = ANY (v_claimed)
     ORDER BY d.next_attempt_at;
END
$$;
