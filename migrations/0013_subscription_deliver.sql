-- One round trip and one commit per rest-hook delivery (docs/adr/0011, addendum "delivery in one
-- statement"). subscription_deliver acknowledges the batch the caller just delivered (if any), leases the
-- next due Subscription, numbers its committed events and answers its state with the events of the batch
-- to send: what were three statements and two commits per POST (claim with numbering, read, acknowledge).
-- p_ack_hold_ms keeps the acknowledged Subscription from being claimed again for that long (the batch
-- window: events committing meanwhile go out together in its next POST instead of one POST each).
--
-- Its statements run one after the other in one transaction, each seeing the ones before it (a plain
-- statement would not see the lease or the numbers a function it calls wrote). The claim is the claim of
-- migration 0011's addendum unchanged: both rows SKIP LOCKED, so it never waits for a writer of the
-- Subscription; the acknowledgement is the old succeeded(): only the lease holder's counts, and it waits
-- for nothing but that Subscription's delivery row, before any other lock is held.
CREATE FUNCTION subscription_deliver(p_owner text, p_lease_ms integer, p_ack text, p_ack_through bigint, p_ack_hold_ms integer)
RETURNS TABLE (
  subscription_id text, status text, topic text, criteria_type text, criteria text, channel_type text,
  endpoint text, payload text, headers text, secret text, organization text, heartbeat_seconds integer,
  timeout_seconds integer, max_count integer, events_count bigint, generation integer, delivered_through bigint,
  batch_to bigint, handshake_done boolean, attempts integer, failing_since timestamptz, last_sent_at timestamptz,
  last_error text, event_number bigint, event_topic text, focus_type text, focus_id text, focus_version integer,
  member_id text, detail text, occurred_at timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  claimed text;
BEGIN
  IF p_ack IS NOT NULL THEN
    UPDATE subscription_delivery SET delivered_through = GREATEST(delivered_through, p_ack_through), batch_to = NULL,
           attempts = 0, failing_since = NULL, last_error = NULL, last_sent_at = now(),
           next_attempt_at = now() + COALESCE(p_ack_hold_ms, 0) * interval '1 millisecond', lease_owner = NULL, lease_until = NULL
     WHERE subscription_id = p_ack AND lease_owner = p_owner;
  END IF;
  SELECT d2.subscription_id INTO claimed
    FROM subscription_delivery d2 JOIN subscription_channel c2 USING (subscription_id)
   WHERE d2.next_attempt_at <= now()
     AND (d2.lease_until IS NULL OR d2.lease_until < now())
     AND ((c2.status = 'requested' AND NOT d2.handshake_done)
       OR (c2.channel_type = 'rest-hook' AND c2.status = 'active' AND (c2.events_count > d2.delivered_through
         OR EXISTS (SELECT 1 FROM subscription_notification n WHERE n.subscription_id = c2.subscription_id AND n.event_number IS NULL)
         OR (c2.heartbeat_seconds IS NOT NULL AND COALESCE(d2.last_sent_at, '-infinity') + c2.heartbeat_seconds * interval '1 second' <= now()))))
   ORDER BY d2.next_attempt_at LIMIT 1
     FOR UPDATE OF d2 SKIP LOCKED FOR NO KEY UPDATE OF c2 SKIP LOCKED;
  IF claimed IS NULL THEN
    RETURN;
  END IF;
  UPDATE subscription_delivery SET lease_owner = p_owner, lease_until = now() + p_lease_ms * interval '1 millisecond'
   WHERE subscription_id = claimed;
  -- A websocket Subscription is numbered by its hub's state(); the dispatcher only activates it.
  PERFORM subscription_number_events(claimed)
     FROM subscription_channel c WHERE c.subscription_id = claimed AND c.channel_type = 'rest-hook' AND c.status = 'active';
  -- The batch the dispatcher sends: the failed one again (batch_to), else the next max_count events.
  RETURN QUERY
    SELECT c.subscription_id, c.status, c.topic, c.criteria_type, c.criteria, c.channel_type, c.endpoint, c.payload,
           c.headers, c.secret, c.organization, c.heartbeat_seconds, c.timeout_seconds, c.max_count, c.events_count, c.generation,
           d.delivered_through, d.batch_to, d.handshake_done, d.attempts, d.failing_since, d.last_sent_at, d.last_error,
           n.event_number, n.topic, n.focus_type, n.focus_id, n.focus_version, n.member_id, n.detail, n.occurred_at
      FROM subscription_channel c JOIN subscription_delivery d USING (subscription_id)
      LEFT JOIN subscription_notification n
        ON c.channel_type = 'rest-hook' AND c.status = 'active'
       AND n.subscription_id = c.subscription_id
       AND n.event_number BETWEEN d.delivered_through + 1 AND COALESCE(d.batch_to, LEAST(c.events_count, d.delivered_through + c.max_count))
     WHERE c.subscription_id = claimed
     ORDER BY n.event_number;
END
$$;

-- The numbering of migration 0011, with the update joined by row address: the planner estimated one
-- unnumbered row (the partial index is mostly empty when statistics are taken) and re-ran the numbered
-- subquery for every row it updated, quadratic in the rows numbered at once (400 index visits for 20
-- events; a backlog after an outage numbers thousands). Same lock, same order, same result.
CREATE OR REPLACE FUNCTION subscription_number_events(sub text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  base bigint;
  added bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM subscription_notification WHERE subscription_id = sub AND event_number IS NULL) THEN
    -- Nothing to number: no lock, no transaction id, no WAL flush.
    RETURN (SELECT events_count FROM subscription_channel WHERE subscription_id = sub);
  END IF;
  SELECT events_count INTO base FROM subscription_channel WHERE subscription_id = sub FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- Rows do not move under the lock: only this function updates them, and purges delete numbered rows only.
  UPDATE subscription_notification t SET event_number = p.n
    FROM (SELECT ctid AS row_id, base + row_number() OVER (ORDER BY seq) AS n
            FROM subscription_notification WHERE subscription_id = sub AND event_number IS NULL) p
   WHERE t.ctid = p.row_id;
  GET DIAGNOSTICS added = ROW_COUNT;
  IF added > 0 THEN
    UPDATE subscription_channel SET events_count = base + added WHERE subscription_id = sub;
  END IF;
  RETURN base + added;
END
$$;
