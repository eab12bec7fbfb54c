-- 0004: presence.
--
-- hide_presence is the user's privacy setting (store.User.HidePresence):
-- true hides their presence and last seen time from everyone else.
-- last_seen is when they were last seen online (store.User.LastSeenAt),
-- NULL when never recorded. Constant defaults: adding the columns rewrites
-- no row.
ALTER TABLE users ADD COLUMN hide_presence boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN last_seen timestamptz;
