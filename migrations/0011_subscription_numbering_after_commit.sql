-- Subscription events are numbered after commit, not in the write (docs/adr/0011, addendum "numbering
-- after commit"). A write inserts its notifications unnumbered, stamped with `seq`, a sequence value
-- drawn after the write took every lock that orders it (member, resource); the first reader of a
-- Subscription (dispatcher, websocket hub, $status, $events) numbers every committed unnumbered row
-- in `seq` order under the Subscription's row lock, which only numberers take. Rows numbered before
-- this migration keep their numbers.
ALTER TABLE subscription_notification DROP CONSTRAINT subscription_notification_pkey;
ALTER TABLE subscription_notification ALTER COLUMN event_number DROP NOT NULL;
ALTER TABLE subscription_notification ADD COLUMN seq bigserial NOT NULL;
ALTER TABLE subscription_notification ADD CONSTRAINT subscription_notification_number_key UNIQUE (subscription_id, event_number);
CREATE INDEX subscription_notification_unnumbered_idx ON subscription_notification (subscription_id, seq) WHERE event_number IS NULL;

-- Numbers the Subscription's committed unnumbered notifications and answers its events_count (NULL:
-- no such Subscription). VOLATILE, so each statement sees what committed before it: after the lock,
-- the rows of every earlier numberer and of every write that committed before this statement.
-- FOR NO KEY UPDATE, not FOR UPDATE: a writer's foreign-key check (FOR KEY SHARE) never waits for it.
CREATE FUNCTION subscription_number_events(sub text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
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
  WITH pending AS (
    SELECT seq, base + row_number() OVER (ORDER BY seq) AS n
      FROM subscription_notification WHERE subscription_id = sub AND event_number IS NULL
  )
  UPDATE subscription_notification t SET event_number = p.n
    FROM pending p
   WHERE t.subscription_id = sub AND t.event_number IS NULL AND t.seq = p.seq;
  GET DIAGNOSTICS added = ROW_COUNT;
  IF added > 0 THEN
    UPDATE subscription_channel SET events_count = base + added WHERE subscription_id = sub;
  END IF;
  RETURN base + added;
END
$$;
