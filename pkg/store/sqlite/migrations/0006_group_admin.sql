-- 0006: group administration (issue #15): roles, mutes, mute-all, the
-- pinned announcement, pinned messages, join requests and invite links.
-- Applied in one transaction by migrate.go.
--
-- The new columns have constant defaults, so adding them rewrites no row:
-- a membership stored before reads as a member (role '') never muted, a
-- room as not muted, with no announcement.

-- role: 'admin' or '' (member); the owner is rooms.owner. muted_until:
-- unix ms, 0 when not muted.
ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN muted_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN mute_all INTEGER NOT NULL DEFAULT 0 CHECK (mute_all IN (0, 1));
ALTER TABLE rooms ADD COLUMN announcement TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN announcement_by TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN announcement_at INTEGER NOT NULL DEFAULT 0;

-- Pinned messages: one row a pin, unique on (room, seq) and on (room,
-- slot); slots run 0 .. store.MaxPins-1, so the bound is exact.
CREATE TABLE pins (
	room_id    TEXT    NOT NULL,
	seq        INTEGER NOT NULL,
	slot       INTEGER NOT NULL,
	by_user    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (room_id, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX pins_slot ON pins (room_id, slot);

-- Pending join requests, one per (room, user); listed oldest first.
CREATE TABLE join_requests (
	room_id    TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	message    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX join_requests_by_time ON join_requests (room_id, created_at, user_id);

-- Invite links (the token's SHA-256 only) and their numbered uses: unique
-- on (link, n) and (link, user), which makes the use limit exact.
CREATE TABLE invite_links (
	id         TEXT    NOT NULL PRIMARY KEY,
	room_id    TEXT    NOT NULL,
	token_hash TEXT    NOT NULL UNIQUE,
	created_by TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	max_uses   INTEGER NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;
CREATE INDEX invite_links_room ON invite_links (room_id, created_at, id);

CREATE TABLE invite_uses (
	link_id    TEXT    NOT NULL,
	n          INTEGER NOT NULL,
	user_id    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (link_id, n)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX invite_uses_user ON invite_uses (link_id, user_id);
