-- 0001: the initial schema. Applied in one transaction by migrate.go,
-- which then sets PRAGMA user_version = 1.
--
-- Times are INTEGER unix milliseconds, UTC. Booleans are INTEGER 0/1.
-- Every unique rule of package store is a PRIMARY KEY or UNIQUE constraint
-- here; every query path of the store has an index (checked by
-- TestQueryPlans). There are no foreign keys: like the mongo store, this one
-- does not require a membership's room or a message's sender to exist.

CREATE TABLE users (
	id         TEXT    NOT NULL PRIMARY KEY,
	account    TEXT    NOT NULL UNIQUE,
	email      TEXT    NOT NULL UNIQUE,
	password   TEXT    NOT NULL,
	nickname   TEXT    NOT NULL,
	avatar     TEXT    NOT NULL,
	sex        INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- number (groups) and pair_key (direct rooms) are NULL when empty; NULLs
-- never collide in a UNIQUE constraint, like mongo's sparse indexes.
CREATE TABLE rooms (
	id         TEXT    NOT NULL PRIMARY KEY,
	type       INTEGER NOT NULL,
	number     TEXT    UNIQUE,
	name       TEXT    NOT NULL,
	info       TEXT    NOT NULL,
	owner      TEXT    NOT NULL,
	pair_key   TEXT    UNIQUE,
	disbanded  INTEGER NOT NULL DEFAULT 0 CHECK (disbanded IN (0, 1)),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE members (
	room_id    TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	room_type  INTEGER NOT NULL,
	read_seq   INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
) STRICT, WITHOUT ROWID;
-- Members (room, oldest first) and MembershipsOf (user, oldest first).
CREATE INDEX members_room_created ON members (room_id, created_at, user_id);
CREATE INDEX members_user_created ON members (user_id, created_at, room_id);

-- user_a < user_b (the store sorts them).
CREATE TABLE friendships (
	user_a     TEXT    NOT NULL,
	user_b     TEXT    NOT NULL,
	room_id    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user_a, user_b)
) STRICT, WITHOUT ROWID;
-- FriendshipsOf looks a user up on both sides.
CREATE INDEX friendships_user_b ON friendships (user_b);

CREATE TABLE friend_requests (
	id         TEXT    NOT NULL PRIMARY KEY,
	from_user  TEXT    NOT NULL,
	to_user    TEXT    NOT NULL,
	message    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (from_user, to_user)
) STRICT, WITHOUT ROWID;
-- FriendRequestsTo and FriendRequestsFrom, oldest first.
CREATE INDEX friend_requests_to ON friend_requests (to_user, created_at, id);
CREATE INDEX friend_requests_from ON friend_requests (from_user, created_at, id);

-- Clustered on (room_id, seq): the history reads are range scans of the
-- primary key.
CREATE TABLE messages (
	room_id       TEXT    NOT NULL,
	seq           INTEGER NOT NULL,
	id            TEXT    NOT NULL UNIQUE,
	sender        TEXT    NOT NULL,
	body          TEXT    NOT NULL,
	client_msg_id TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	hole          INTEGER NOT NULL DEFAULT 0 CHECK (hole IN (0, 1)),
	PRIMARY KEY (room_id, seq),
	UNIQUE (sender, client_msg_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE refresh_tokens (
	hash       TEXT    NOT NULL PRIMARY KEY,
	family     TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE used_refresh_tokens (
	hash    TEXT    NOT NULL PRIMARY KEY,
	used_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE revoked_families (
	family     TEXT    NOT NULL PRIMARY KEY,
	revoked_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
