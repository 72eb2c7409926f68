-- Subscriptions (docs/adr/0011): each Subscription's delivery state, and the notifications written in
-- the same transaction as the write that caused them, numbered per Subscription without gaps.

-- One row per Subscription resource, derived from it in the transaction that writes it. The webhook
-- secret lives only here: it is removed from the stored resource.
CREATE TABLE subscription_channel (
  subscription_id   text        PRIMARY KEY,
  status            text        NOT NULL,           -- mirrors Subscription.status
  topic             text,                           -- topic id (topic-based) or NULL (classic)
  criteria_type     text        NOT NULL,           -- classic: the searched type; topic: the focus type
  criteria          text        NOT NULL,           -- classic: the search query; topic: ''
  filters           text        NOT NULL,           -- JSON [{param, values}] (topic filters)
  channel_type      text        NOT NULL,           -- rest-hook | websocket
  endpoint          text,
  payload           text        NOT NULL,           -- empty | id-only | full-resource
  headers           text        NOT NULL,           -- JSON string[] sent with each rest-hook delivery
  secret            text,
  organization      text,                           -- the creating client's organization, if any
  heartbeat_seconds integer,
  timeout_seconds   integer,
  max_count         integer     NOT NULL DEFAULT 1,
  -- Incremented in the writing transaction under this row's lock: commit order, no gaps.
  events_count      bigint      NOT NULL DEFAULT 0,
  -- Bumped on every client (re)configuration; a dispatcher's answer for an older one is ignored.
  generation        integer     NOT NULL DEFAULT 1
);
CREATE INDEX subscription_channel_topic_idx ON subscription_channel (topic) WHERE status <> 'off';
CREATE INDEX subscription_channel_type_idx ON subscription_channel (criteria_type) WHERE status <> 'off' AND topic IS NULL;

-- Dispatcher state, apart from subscription_channel so a running delivery never blocks writers.
CREATE TABLE subscription_delivery (
  subscription_id   text        PRIMARY KEY REFERENCES subscription_channel (subscription_id) ON DELETE CASCADE,
  delivered_through bigint      NOT NULL DEFAULT 0, -- last event number the receiver acknowledged
  batch_to          bigint,                         -- in-flight batch (delivered_through+1 .. batch_to)
  handshake_done    boolean     NOT NULL DEFAULT false,
  attempts          integer     NOT NULL DEFAULT 0,
  failing_since     timestamptz,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  last_sent_at      timestamptz,
  lease_owner       text,
  lease_until       timestamptz,
  last_error        text
);
CREATE INDEX subscription_delivery_due_idx ON subscription_delivery (next_attempt_at);

CREATE TABLE subscription_notification (
  subscription_id text        NOT NULL REFERENCES subscription_channel (subscription_id) ON DELETE CASCADE,
  event_number    bigint      NOT NULL,
  topic           text,
  focus_type      text,
  focus_id        text,
  focus_version   integer,
  member_id       text,
  detail          text,                             -- coordination-refused: the OperationOutcome JSON
  occurred_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscription_id, event_number)
);
CREATE INDEX subscription_notification_occurred_idx ON subscription_notification (occurred_at);
