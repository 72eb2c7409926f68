-- Access control (SMART Backend Services, src/auth/): registered clients, the assertion ids (jti) already
-- accepted, and the key the server signs its access tokens with. All three live in the database so that
-- several Concord instances over one database agree on them.

-- A registered client. organization is the Organization/id it acts for; NULL only for administrative
-- clients (bound to no organization). scopes: the SMART scopes it may be granted, space-separated.
-- Keys by value (jwks) or by URL (jwks_url), and/or a scrypt hash of a client secret.
CREATE TABLE auth_client (
  client_id    text        PRIMARY KEY,
  organization text,
  scopes       text        NOT NULL,
  jwks         jsonb,
  jwks_url     text,
  secret_hash  text,
  enabled      boolean     NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (jwks IS NULL OR jwks_url IS NULL)
);

-- Assertion ids a client has used, kept until the assertion expires: a jti is accepted once per client,
-- by whichever instance sees it first (the primary key decides). Expired rows may be purged.
CREATE TABLE auth_jti (
  client_id  text        NOT NULL,
  jti        text        NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX auth_jti_expires_idx ON auth_jti (expires_at);

-- The server's access-token signing keys (private JWK). The newest signs; every stored key verifies, so
-- instances that raced to create the first key, or outlived a rotation, still accept each other's tokens.
CREATE TABLE auth_signing_key (
  kid         text        PRIMARY KEY,
  alg         text        NOT NULL,
  private_jwk jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
