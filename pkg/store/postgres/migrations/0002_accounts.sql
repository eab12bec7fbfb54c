-- 0002: account deletion, sessions, and the indexes of the expiry sweep.
-- Applied by migrate.go in one transaction under the advisory lock, which
-- then records version 2 in schema_version. Adding a column with a
-- constant default only changes the catalog; the new indexes are built
-- under the transaction's lock (CREATE INDEX CONCURRENTLY cannot run in a
-- transaction), which blocks writes to users and refresh_tokens while they
-- build.
--
-- Scale path (Citus), continuing the table of 0001:
--
--   sessions            distributed by id       PK (id)
--
-- A session's id is its refresh family, and revoked_families is
-- distributed by family: the two are co-located, so RevokeFamily's insert
-- into revoked_families and its update of the session are one shard's
-- transaction (its delete of the family's tokens fans out, as in 0001).
-- The per-refresh reads and writes of a session (Session, TouchSession)
-- name only the id, which the callers take from the token's sid claim,
-- and pin one shard. Distributing by user_id instead would co-locate a
-- user's sessions for SessionsOf, but the primary key would have to lead
-- with user_id, (user_id, id), and every per-refresh statement, which does
-- not know the user, would fan out. So SessionsOf (a short list, read on
-- the account page) is the lookup by the other side here: the plain index
-- sessions_user_created, fanned out to every shard.
--
-- PurgeExpired's range scans by expires_at (sessions_expires,
-- refresh_tokens_expires) fan out to every shard too: they are a
-- background sweep, bounded by its limit. users stays the directory table
-- of 0001; its new partial index holds only the deleted accounts waiting
-- for ReleaseDeleted.

-- deleted_at is NULL for a live account. released is set once
-- ReleaseDeleted rewrote the account name and email of a deleted user (to
-- store.ReleasedAccount and store.ReleasedEmail), freeing the originals.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
ALTER TABLE users ADD COLUMN released boolean NOT NULL DEFAULT false;
-- ReleaseDeleted: the deleted users not yet released, oldest deletion
-- first.
CREATE INDEX users_to_release ON users (deleted_at, id) WHERE deleted_at IS NOT NULL AND NOT released;

-- A session is one signed-in device; its id is the refresh family of its
-- tokens (refresh_tokens.family, revoked_families.family).
CREATE TABLE sessions (
	id            text COLLATE "C" NOT NULL,
	user_id       text COLLATE "C" NOT NULL,
	device        text             NOT NULL,
	ip            text             NOT NULL,
	created_at    timestamptz      NOT NULL,
	last_used_at  timestamptz      NOT NULL,
	expires_at    timestamptz      NOT NULL,
	revoked       boolean          NOT NULL DEFAULT false,
	CONSTRAINT sessions_pkey PRIMARY KEY (id)
);
-- SessionsOf (user, oldest first).
CREATE INDEX sessions_user_created ON sessions (user_id, created_at, id);
-- PurgeExpired.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
