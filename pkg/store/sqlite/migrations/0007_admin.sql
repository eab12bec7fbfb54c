-- 0007: the admin API (issue #16): bans. One row a banned user; unbanning
-- deletes it. Applied in one transaction by migrate.go.
CREATE TABLE bans (
	user_id    TEXT    NOT NULL PRIMARY KEY,
	reason     TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
