-- Subscription events as one row per write's event, fanned out at read time (docs/adr/0021, which
-- supersedes the storage parts of docs/adr/0011's addenda). Before: one row per event and Subscription,
-- inserted by the write (three indexes, a FOR KEY SHARE lock per Subscription) and rewritten by the
-- numbering. Now:
--   * subscription_event: one row per distinct event of a write, with the ids of the Subscriptions it
--     matched, inserted in the write's transaction without any lock (no foreign key: the id of a
--     Subscription deleted meanwhile is ignored);
--   * a global position, given once per event row after commit by the first reader, under one lock,
--     in seq order among the committed unpositioned rows (the reasoning of migration 0011's
--     numbering, for all Subscriptions at once);
--   * per Subscription, lazily: a cursor (numbered_through: the positions looked at; events_count) and
--     one subscription_numbering row per numbering step with the positions it numbered, so numbers,
--     redeliveries and $events always map to the same events.

CREATE TABLE subscription_event (
  seq              bigserial   NOT NULL,            -- drawn at insert, after every lock that orders the write
  position         bigint,                          -- commit order, given after commit (NULL: not yet)
  subscription_ids text[]      NOT NULL,            -- the Subscriptions the event matched when written
  topic            text,
  focus_type       text,
  focus_id         text,
  focus_version    integer,
  member_id        text,
  detail           text,                            -- coordination-refused: the OperationOutcome JSON
  occurred_at      timestamptz NOT NULL DEFAULT now()
);
-- A write inserts one entry (the partial index); positioning one (the position index).
CREATE UNIQUE INDEX subscription_event_position_idx ON subscription_event (position) WHERE position IS NOT NULL;
CREATE INDEX subscription_event_unpositioned_idx ON subscription_event (seq) WHERE position IS NULL;

-- The one row positioners lock (FOR UPDATE): positions are given one positioner at a time.
CREATE TABLE subscription_event_cursor (
  singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  positioned_through bigint  NOT NULL DEFAULT 0
);
INSERT INTO subscription_event_cursor DEFAULT VALUES;

-- One row per numbering step of a Subscription: numbers first_number..last_number are, in order, the
-- events at these positions. Written once, never updated: a redelivery and $events read the same events.
CREATE TABLE subscription_numbering (
  subscription_id text     NOT NULL REFERENCES subscription_channel (subscription_id) ON DELETE CASCADE,
  first_number    bigint   NOT NULL,
  last_number     bigint   NOT NULL,
  positions       bigint[] NOT NULL,
  PRIMARY KEY (subscription_id, first_number)
);

-- numbered_through: every event at a position up to it was looked at for this Subscription.
-- since_seq: the seq drawn when the Subscription was created; an event with a seq not above it was
-- recorded by a write that could not have seen this Subscription (an earlier one with the same id).
ALTER TABLE subscription_channel ADD COLUMN numbered_through bigint NOT NULL DEFAULT 0;
ALTER TABLE subscription_channel ADD COLUMN since_seq bigint NOT NULL DEFAULT 0;

-- Conversion. Writers of the old table (an instance not yet upgraded) are waited for, then refused.
LOCK TABLE subscription_notification IN EXCLUSIVE MODE;
-- Numbered rows first, positioned per Subscription in number order; unnumbered rows keep their seq and
-- stay unpositioned, so the first reader positions (and numbers) them in seq order after them, as
-- migration 0011's numbering would have.
INSERT INTO subscription_event (seq, position, subscription_ids, topic, focus_type, focus_id, focus_version, member_id, detail, occurred_at)
SELECT seq, CASE WHEN event_number IS NOT NULL THEN row_number() OVER (ORDER BY event_number IS NULL, subscription_id, event_number) END,
       ARRAY[subscription_id], topic, focus_type, focus_id, focus_version, member_id, detail, occurred_at
  FROM subscription_notification;
UPDATE subscription_event_cursor SET positioned_through = (SELECT COALESCE(max(position), 0) FROM subscription_event);
SELECT setval(pg_get_serial_sequence('subscription_event', 'seq'), (SELECT COALESCE(max(seq), 0) + 1 FROM subscription_notification), false);
-- One step per run of consecutive numbers (retention may have purged some in between).
INSERT INTO subscription_numbering (subscription_id, first_number, last_number, positions)
SELECT subscription_id, min(event_number), max(event_number), array_agg(position ORDER BY event_number)
  FROM (SELECT n.subscription_id, n.event_number, e.position,
               n.event_number - row_number() OVER (PARTITION BY n.subscription_id ORDER BY n.event_number) AS run
          FROM subscription_notification n JOIN subscription_event e ON e.seq = n.seq
         WHERE n.event_number IS NOT NULL) numbered
 GROUP BY subscription_id, run;
UPDATE subscription_channel c SET numbered_through = COALESCE((SELECT max(last_position) FROM (
         SELECT positions[cardinality(positions)] AS last_position FROM subscription_numbering s WHERE s.subscription_id = c.subscription_id) l), 0);

DROP FUNCTION subscription_deliver(text, integer, text, bigint, integer);
DROP FUNCTION subscription_number_events(text);
DROP TABLE subscription_notification;

-- Gives every committed unpositioned event the next position, in seq order; answers positioned_through.
-- VOLATILE: each statement sees what committed before it, so after the lock every earlier positioner's
-- positions. A position is only given to a committed event, so positions follow commit order (ADR 0021).
CREATE FUNCTION subscription_position_events() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  base bigint;
  added bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM subscription_event WHERE position IS NULL) THEN
    -- Nothing committed to position: no lock, no transaction id, no WAL flush.
    RETURN (SELECT positioned_through FROM subscription_event_cursor);
  END IF;
  SELECT positioned_through INTO base FROM subscription_event_cursor FOR UPDATE;
  -- Joined by row address (migration 0013's reason); rows do not move under the lock: only this
  -- function updates them and purges delete positioned rows only.
  UPDATE subscription_event t SET position = p.n
    FROM (SELECT ctid AS row_id, base + row_number() OVER (ORDER BY seq) AS n
            FROM subscription_event WHERE position IS NULL) p
   WHERE t.ctid = p.row_id;
  GET DIAGNOSTICS added = ROW_COUNT;
  IF added > 0 THEN
    UPDATE subscription_event_cursor SET positioned_through = base + added;
  END IF;
  RETURN base + added;
END
$$;

-- Numbers the Subscription's events positioned since its cursor, in position order, after
-- events_count; answers events_count (NULL: no such Subscription). Call it after positioning, in a
-- statement of its own: it waits for the Subscription's row lock (numberers' FOR NO KEY UPDATE), and
-- a transaction holding the positioning lock must never wait for a Subscription's row (ADR 0021).
CREATE FUNCTION subscription_number_events(sub text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  through bigint;
  done bigint;
  base bigint;
  since bigint;
  found_positions bigint[];
BEGIN
  -- Every position up to it is committed and visible to the statements below (positions are given
  -- one positioner at a time, each committing before the next begins).
  through := (SELECT positioned_through FROM subscription_event_cursor);
  SELECT numbered_through, events_count INTO done, base FROM subscription_channel WHERE subscription_id = sub;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF done >= through THEN
    RETURN base;
  END IF;
  SELECT numbered_through, events_count, since_seq INTO done, base, since FROM subscription_channel WHERE subscription_id = sub FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF done >= through THEN
    RETURN base;
  END IF;
  SELECT array_agg(e.position ORDER BY e.position) INTO found_positions
    FROM subscription_event e
   WHERE e.position > done AND e.position <= through AND sub = ANY (e.subscription_ids) AND e.seq > since;
  IF found_positions IS NOT NULL THEN
    INSERT INTO subscription_numbering (subscription_id, first_number, last_number, positions)
    VALUES (sub, base + 1, base + cardinality(found_positions), found_positions);
    base := base + cardinality(found_positions);
  END IF;
  UPDATE subscription_channel SET numbered_through = through, events_count = base WHERE subscription_id = sub;
  RETURN base;
END
$$;

-- The Subscription's numbered events n_from..n_to that are retained, in number order.
CREATE FUNCTION subscription_notifications(sub text, n_from bigint, n_to bigint)
RETURNS TABLE (event_number bigint, topic text, focus_type text, focus_id text, focus_version integer, member_id text, detail text, occurred_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT s.first_number + o.i - 1, e.topic, e.focus_type, e.focus_id, e.focus_version, e.member_id, e.detail, e.occurred_at
    FROM subscription_numbering s
   CROSS JOIN LATERAL unnest(s.positions) WITH ORDINALITY AS o(position, i)
    JOIN subscription_event e ON e.position = o.position
   WHERE s.subscription_id = sub
     -- From the step holding n_from (the last one starting at or before it): an index range, not every step.
     AND s.first_number >= COALESCE((SELECT max(b.first_number) FROM subscription_numbering b
                                      WHERE b.subscription_id = sub AND b.first_number <= n_from), 0)
     AND s.first_number <= n_to
     AND s.first_number + o.i - 1 BETWEEN n_from AND n_to
   ORDER BY 1
$$;

-- migrations/0013's delivery statement on the event log: acknowledgement, positioning, claim, lease,
-- numbering, and the batch to send as one JSON array (one row per call instead of 31 columns per event).
-- Lock order: the acknowledgement waits for its delivery row only; positioning waits for the cursor
-- row only; the claim waits for nothing (both rows SKIP LOCKED); the numbering then holds its lock
-- already. Nothing that holds the cursor row ever waits for a Subscription's row.
CREATE FUNCTION subscription_deliver(p_owner text, p_lease_ms integer, p_ack text, p_ack_through bigint, p_ack_hold_ms integer)
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
  through bigint;
BEGIN
  IF p_ack IS NOT NULL THEN
    UPDATE subscription_delivery SET delivered_through = GREATEST(delivered_through, p_ack_through), batch_to = NULL,
           attempts = 0, failing_since = NULL, last_error = NULL, last_sent_at = now(),
           next_attempt_at = now() + COALESCE(p_ack_hold_ms, 0) * interval '1 millisecond', lease_owner = NULL, lease_until = NULL
     WHERE subscription_id = p_ack AND lease_owner = p_owner;
  END IF;
  -- The check subscription_position_events() starts with, inline: most calls have nothing to position.
  IF EXISTS (SELECT 1 FROM subscription_event WHERE position IS NULL) THEN
    through := subscription_position_events();
  ELSE
    through := (SELECT positioned_through FROM subscription_event_cursor);
  END IF;
  SELECT d2.subscription_id INTO claimed
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
     FOR UPDATE OF d2 SKIP LOCKED FOR NO KEY UPDATE OF c2 SKIP LOCKED;
  IF claimed IS NULL THEN
    -- Idle: move the cursors of active rest-hook Subscriptions that matched none of the newly positioned
    -- events past them, so the claim's look for their events does not rescan a growing range. Only
    -- those rows are locked (a lock is a write), SKIP LOCKED (a numberer or writer holds them: left for
    -- another time), and checked again under the lock.
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
           CASE WHEN c.channel_type = 'rest-hook' AND c.status = 'active' THEN
             (SELECT json_agg(json_build_array(n.event_number, n.topic, n.focus_type, n.focus_id, n.focus_version, n.member_id, n.detail, n.occurred_at) ORDER BY n.event_number)
                FROM subscription_notifications(c.subscription_id, d.delivered_through + 1,
                       COALESCE(d.batch_to, LEAST(c.events_count, d.delivered_through + c.max_count))) n)
           END
      FROM subscription_channel c JOIN subscription_delivery d USING (subscription_id)
     WHERE c.subscription_id = claimed;
END
$$;
