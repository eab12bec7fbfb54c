-- 0006: group administration (issue #15): roles, mutes, mute-all, the
-- pinned announcement, pinned messages, join requests and invite links.
-- Applied by migrate.go in one transaction under the advisory lock.
--
-- The new columns have constant defaults (or none, for the nullable
-- times), which only changes the catalog: no row is rewritten; a
-- membership stored before reads as a member (role '') never muted, a room
-- as not muted, with no announcement.
--
-- Scale path (Citus), continuing 0003: pins and join_requests are
-- distributed by room_id and co-located with members (every statement
-- names the room); invite_links by id (the join path looks a link up by
-- its token hash: a reference-free lookup, as files by id) and
-- invite_uses by link_id, co-located with nothing.

-- role: 'admin' or '' (member); the owner is rooms.owner. muted_until:
-- NULL when not muted.
ALTER TABLE members ADD COLUMN role text NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN muted_until timestamptz;
ALTER TABLE rooms ADD COLUMN mute_all boolean NOT NULL DEFAULT false;
ALTER TABLE rooms ADD COLUMN announcement text NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN announcement_by text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN announcement_at timestamptz;

-- Pinned messages, unique on (room, seq) and (room, slot); slots run
-- 0 .. store.MaxPins-1, so the bound is exact.
CREATE TABLE pins (
	room_id    text COLLATE "C" NOT NULL,
	seq        bigint           NOT NULL,
	slot       integer          NOT NULL,
	by_user    text COLLATE "C" NOT NULL,
	created_at timestamptz      NOT NULL,
	CONSTRAINT pins_pkey PRIMARY KEY (room_id, seq),
	CONSTRAINT pins_slot_key UNIQUE (room_id, slot)
);

-- Pending join requests, one per (room, user), listed oldest first.
CREATE TABLE join_requests (
	room_id    text COLLATE "C" NOT NULL,
	user_id    text COLLATE "C" NOT NULL,
	message    text             NOT NULL,
	created_at timestamptz      NOT NULL,
	CONSTRAINT join_requests_pkey PRIMARY KEY (room_id, user_id)
);
CREATE INDEX join_requests_by_time ON join_requests (room_id, created_at, user_id);

-- Invite links (the token's SHA-256 only) and their numbered uses, unique
-- on (link, n) and (link, user): the use limit is exact.
CREATE TABLE invite_links (
	id         text COLLATE "C" NOT NULL,
	room_id    text COLLATE "C" NOT NULL,
	token_hash text COLLATE "C" NOT NULL,
	created_by text COLLATE "C" NOT NULL,
	created_at timestamptz      NOT NULL,
	expires_at timestamptz      NOT NULL,
	max_uses   integer          NOT NULL,
	revoked    boolean          NOT NULL DEFAULT false,
	CONSTRAINT invite_links_pkey PRIMARY KEY (id),
	CONSTRAINT invite_links_token_key UNIQUE (token_hash)
);
CREATE INDEX invite_links_room ON invite_links (room_id, created_at, id);

CREATE TABLE invite_uses (
	link_id    text COLLATE "C" NOT NULL,
	n          integer          NOT NULL,
	user_id    text COLLATE "C" NOT NULL,
	created_at timestamptz      NOT NULL,
	CONSTRAINT invite_uses_pkey PRIMARY KEY (link_id, n),
	CONSTRAINT invite_uses_user_key UNIQUE (link_id, user_id)
);
