-- 0002: account deletion, sessions, and the indexes of the expiry sweep.
-- Applied in one transaction by migrate.go, which then sets PRAGMA
-- user_version = 2.

-- deleted_at is NULL for a live account. released is set once
-- ReleaseDeleted rewrote the account name and email of a deleted user (to
-- store.ReleasedAccount and store.ReleasedEmail), freeing the originals.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
ALTER TABLE users ADD COLUMN released INTEGER NOT NULL DEFAULT 0 CHECK (released IN (0, 1));
-- ReleaseDeleted: the deleted users not yet released, oldest deletion
-- first. Partial, so it holds only the few accounts waiting for release.
CREATE INDEX users_to_release ON users (deleted_at, id) WHERE deleted_at IS NOT NULL AND released = 0;

-- A session is one signed-in device; its id is the refresh family of its
-- tokens (refresh_tokens.family, revoked_families.family).
CREATE TABLE sessions (
	id           TEXT    NOT NULL PRIMARY KEY,
	user_id      TEXT    NOT NULL,
	device       TEXT    NOT NULL,
	ip           TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;
-- SessionsOf (user, oldest first).
CREATE INDEX sessions_user_created ON sessions (user_id, created_at, id);
-- PurgeExpired.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
