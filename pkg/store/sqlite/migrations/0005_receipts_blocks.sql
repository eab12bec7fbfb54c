-- 0005: read receipts and blocking. Applied in one transaction by
-- migrate.go, which then sets PRAGMA user_version = 5.
--
-- Read receipts are computed from the members' read marks: ReadCounts
-- reads the marks of a room at or past a seq, a range of this index
-- (covering: it holds the user id too).
CREATE INDEX members_room_read ON members (room_id, read_seq, user_id);

-- One row a block: its existence is the rule. The primary key is the
-- uniqueness rule (a user blocks another once) and serves IsBlocked,
-- UnblockUser and the blocks a user made; blocks_blocked the blocks made
-- against a user (BlocksOf lists both).
CREATE TABLE blocks (
	blocker    TEXT    NOT NULL,
	blocked    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (blocker, blocked)
) STRICT, WITHOUT ROWID;
CREATE INDEX blocks_blocked ON blocks (blocked, blocker);
