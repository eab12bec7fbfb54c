-- 0001: the initial schema. Applied by migrate.go in one transaction under
-- an advisory lock, which then records version 1 in schema_version.
--
-- Times are timestamptz holding UTC instants truncated to milliseconds by
-- the store. Identifiers are text COLLATE "C": compared byte by byte, as
-- Go and mongo compare them, whatever the database's default collation. Every unique rule of package store is a PRIMARY KEY or UNIQUE
-- constraint here; every query path of the store has an index (checked by
-- TestQueryPlans). There are no foreign keys: like the mongo store, this
-- one does not require a membership's room or a message's sender to exist,
-- and foreign keys would tie tables that a sharded deployment places on
-- different nodes.
--
-- Scale path (Citus). The tables that grow with traffic are keyed so that
-- each can be distributed by one column that every one of its primary keys
-- and unique constraints leads with, and that every hot query pins:
--
--   messages            distributed by room_id  PK (room_id, seq),
--                                               UNIQUE (room_id, id)
--   members             distributed by room_id  PK (room_id, user_id)
--   friendships         distributed by user_a   PK (user_a, user_b)
--   friend_requests     distributed by from_user PK (from_user, to_user)
--   refresh_tokens,
--   used_refresh_tokens distributed by hash     PK (hash)
--   revoked_families    distributed by family   PK (family)
--
-- (members, messages and a room's rows would be co-located by room_id.)
-- The lookups by the other side (MembershipsOf by user_id, FriendshipsOf on
-- user_b, FriendRequestsTo, RevokeFamily's delete by family) use plain
-- indexes, which Citus fans out to every shard; they are per-user reads
-- of a few rows.
--
-- Four unique rules are global by nature and cannot lead with the
-- distribution column; a Citus deployment moves each into a lookup table
-- distributed by the unique column itself (an insert then writes both rows
-- in one distributed transaction), or keeps the small directory tables as
-- reference tables:
--
--   users (account), users (email), rooms (number), rooms (pair_key):
--       users and rooms are the directory (read by id everywhere but at
--       login and when opening a direct room);
--   messages (sender, client_msg_id): leads with the sender's user id; it
--       becomes a table of (sender, client_msg_id) -> (room_id, seq)
--       distributed by sender;
--   friend_requests (id): a request is found by id only when it is
--       answered; it becomes UNIQUE (from_user, id) with the id lookup
--       fanned out.
--
-- Message ids are unique per room, UNIQUE (room_id, id), not globally: a
-- global unique index could not be enforced once messages are distributed
-- by room. Ids are ULIDs made by the server, so a collision across rooms
-- is not a concern; a duplicate id within a room is store.ErrDuplicate.

CREATE TABLE users (
	id            text COLLATE "C" NOT NULL,
	account       text COLLATE "C" NOT NULL,
	email         text COLLATE "C" NOT NULL,
	password      text             NOT NULL,
	nickname      text             NOT NULL,
	avatar        text             NOT NULL,
	sex           integer          NOT NULL,
	created_at    timestamptz      NOT NULL,
	updated_at    timestamptz      NOT NULL,
	CONSTRAINT users_pkey PRIMARY KEY (id),
	CONSTRAINT users_account_key UNIQUE (account),
	CONSTRAINT users_email_key UNIQUE (email)
);

-- number (groups) and pair_key (direct rooms) are NULL when empty; NULLs
-- never collide in a UNIQUE constraint, like mongo's sparse indexes.
CREATE TABLE rooms (
	id            text COLLATE "C" NOT NULL,
	type          integer          NOT NULL,
	number        text COLLATE "C",
	name          text             NOT NULL,
	info          text             NOT NULL,
	owner         text COLLATE "C" NOT NULL,
	pair_key      text COLLATE "C",
	disbanded     boolean          NOT NULL DEFAULT false,
	created_at    timestamptz      NOT NULL,
	updated_at    timestamptz      NOT NULL,
	CONSTRAINT rooms_pkey PRIMARY KEY (id),
	CONSTRAINT rooms_number_key UNIQUE (number),
	CONSTRAINT rooms_pair_key_key UNIQUE (pair_key)
);

CREATE TABLE members (
	room_id       text COLLATE "C" NOT NULL,
	user_id       text COLLATE "C" NOT NULL,
	room_type     integer          NOT NULL,
	read_seq      bigint           NOT NULL DEFAULT 0,
	created_at    timestamptz      NOT NULL,
	CONSTRAINT members_pkey PRIMARY KEY (room_id, user_id)
);
-- Members (room, oldest first) and MembershipsOf (user, oldest first).
CREATE INDEX members_room_created ON members (room_id, created_at, user_id);
CREATE INDEX members_user_created ON members (user_id, created_at, room_id);

-- user_a < user_b (the store sorts them).
CREATE TABLE friendships (
	user_a        text COLLATE "C" NOT NULL,
	user_b        text COLLATE "C" NOT NULL,
	room_id       text COLLATE "C" NOT NULL,
	created_at    timestamptz      NOT NULL,
	CONSTRAINT friendships_pkey PRIMARY KEY (user_a, user_b)
);
-- FriendshipsOf looks a user up on both sides.
CREATE INDEX friendships_user_b ON friendships (user_b);

CREATE TABLE friend_requests (
	id            text COLLATE "C" NOT NULL,
	from_user     text COLLATE "C" NOT NULL,
	to_user       text COLLATE "C" NOT NULL,
	message       text             NOT NULL,
	created_at    timestamptz      NOT NULL,
	CONSTRAINT friend_requests_pkey PRIMARY KEY (from_user, to_user),
	CONSTRAINT friend_requests_id_key UNIQUE (id)
);
-- FriendRequestsTo and FriendRequestsFrom, oldest first.
CREATE INDEX friend_requests_to ON friend_requests (to_user, created_at, id);
CREATE INDEX friend_requests_from ON friend_requests (from_user, created_at, id);

-- The history reads are range scans of the primary key.
CREATE TABLE messages (
	room_id       text COLLATE "C" NOT NULL,
	seq           bigint           NOT NULL,
	id            text COLLATE "C" NOT NULL,
	sender        text COLLATE "C" NOT NULL,
	body          text             NOT NULL,
	client_msg_id text COLLATE "C" NOT NULL,
	created_at    timestamptz      NOT NULL,
	hole          boolean          NOT NULL DEFAULT false,
	CONSTRAINT messages_pkey PRIMARY KEY (room_id, seq),
	CONSTRAINT messages_room_id_key UNIQUE (room_id, id),
	CONSTRAINT messages_sender_client_msg_id_key UNIQUE (sender, client_msg_id)
);

CREATE TABLE refresh_tokens (
	hash          text COLLATE "C" NOT NULL,
	family        text COLLATE "C" NOT NULL,
	user_id       text COLLATE "C" NOT NULL,
	expires_at    timestamptz      NOT NULL,
	created_at    timestamptz      NOT NULL,
	CONSTRAINT refresh_tokens_pkey PRIMARY KEY (hash)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE used_refresh_tokens (
	hash          text COLLATE "C" NOT NULL,
	used_at       timestamptz      NOT NULL,
	CONSTRAINT used_refresh_tokens_pkey PRIMARY KEY (hash)
);

CREATE TABLE revoked_families (
	family        text COLLATE "C" NOT NULL,
	revoked_at    timestamptz      NOT NULL,
	CONSTRAINT revoked_families_pkey PRIMARY KEY (family)
);
