-- 0005: read receipts and blocking.
--
-- Read receipts are computed from the members' read marks: ReadCounts
-- reads the marks of a room at or past a seq, a range of this index
-- (covering: it holds the user id too).
CREATE INDEX members_room_read ON members (room_id, read_seq, user_id);

-- One row a block: its existence is the rule. The primary key is the
-- uniqueness rule (a user blocks another once) and serves IsBlocked,
-- UnblockUser and the blocks a user made (distributed by blocker);
-- blocks_blocked the blocks made against a user (BlocksOf lists both).
CREATE TABLE blocks (
	blocker       text COLLATE "C" NOT NULL,
	blocked       text COLLATE "C" NOT NULL,
	created_at    timestamptz      NOT NULL,
	CONSTRAINT blocks_pkey PRIMARY KEY (blocker, blocked)
);
CREATE INDEX blocks_blocked ON blocks (blocked, blocker);
