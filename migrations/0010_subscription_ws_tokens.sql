-- Websocket binding tokens (docs/subscriptions.md, ADR 0011 addendum): issued by $get-ws-binding-token on
-- any instance and redeemed by bind-with-token on any instance, so they live in the shared database.
-- Only a SHA-256 hash of the token is kept; a token is single-use and short-lived.
CREATE TABLE subscription_ws_token (
  token_hash      text        PRIMARY KEY,          -- hex SHA-256 of the token
  subscription_id text        NOT NULL REFERENCES subscription_channel (subscription_id) ON DELETE CASCADE,
  expires_at      timestamptz NOT NULL
);
CREATE INDEX subscription_ws_token_expires_idx ON subscription_ws_token (expires_at);
