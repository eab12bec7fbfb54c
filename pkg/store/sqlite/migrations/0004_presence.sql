-- 0004: presence. Applied in one transaction by migrate.go, which then
-- sets PRAGMA user_version = 4.
--
-- hide_presence is the user's privacy setting (store.User.HidePresence):
-- 1 hides their presence and last seen time from everyone else.
-- last_seen is when they were last seen online (store.User.LastSeenAt,
-- unix milliseconds), NULL when never recorded. Constant defaults: adding
-- the columns rewrites no row.
ALTER TABLE users ADD COLUMN hide_presence INTEGER NOT NULL DEFAULT 0 CHECK (hide_presence IN (0, 1));
ALTER TABLE users ADD COLUMN last_seen INTEGER;
