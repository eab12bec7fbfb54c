-- 0007: the admin API (issue #16): bans. One row a banned user; unbanning
-- deletes it. Applied by migrate.go in one transaction under the advisory
-- lock. Scale path (Citus): distributed by user_id, like users.
CREATE TABLE bans (
	user_id    text COLLATE "C" NOT NULL,
	reason     text             NOT NULL,
	created_at timestamptz      NOT NULL,
	CONSTRAINT bans_pkey PRIMARY KEY (user_id)
);
