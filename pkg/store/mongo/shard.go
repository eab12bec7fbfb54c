package mongo

// ShardKey is how one collection is laid out on a sharded cluster: Key, the
// fields of its shard key in order (empty: the collection is not sharded and
// lives on its database's primary shard), and Reason, why.
type ShardKey struct {
	Key    []string
	Reason string
}

// Sharded reports whether the collection is sharded.
func (k ShardKey) Sharded() bool { return len(k.Key) > 0 }

// ShardKeys is the shard-ready layout of every collection the store writes
// (docs/operations.md, "Sharded MongoDB", lists it, and TestShardReadyLayout
// checks it on the live store): every
// unique index of a sharded collection starts with its shard key, and every
// read or write of a sharded collection on the send, history, sync,
// conversation list and unread count paths has an equality (or $in) on the
// whole key, so mongos routes it to one shard (or the shards of the $in).
//
// The _id index is the exception MongoDB allows: _id is unique per shard
// only, and the store makes every _id itself (ULIDs, ObjectIDs), so no two
// shards hold the same one.
var ShardKeys = map[string]ShardKey{
	CollMessages: {Key: []string{"room_identity"}, Reason: "history, sync, the last message and unread counts " +
		"read one room's messages by (room, seq); the idempotency rule is (room, sender, client_msg_id). " +
		"A ranged key on the room keeps a room's messages on one shard; a very busy room is one chunk"},
	CollMembers: {Key: []string{"user_identity"}, Reason: "the conversation list, the rooms of a user " +
		"(subscription at connect, sync) and unread counts read a user's memberships; the membership " +
		"check and the read mark name both room and user. The room-side reads (member lists, read " +
		"receipts, the after_send recipients) go to every shard"},
	CollReactions: {Key: []string{"room_identity"}, Reason: "reaction counts are read with the " +
		"messages of one room, the rule is unique per (room, seq, emoji, user)"},
	CollHidden: {Key: []string{"user_identity"}, Reason: "a user's hidden messages are read by " +
		"(user, room, seq range) with their history"},

	CollUsers: {Reason: "the directory: unique account and email cannot lead with one key; " +
		"one small document a user, read by id"},
	CollRooms:          {Reason: "the directory: unique group number and direct pair key; one small document a room"},
	CollUserPresence:   {Reason: "two small documents a user, read with the users"},
	CollFriendships:    {Reason: "read by either user ($or), small"},
	CollFriendRequests: {Reason: "read by sender or receiver, small and short-lived"},
	CollBlocks:         {Reason: "small, read by blocker and by blocked"},
	CollRefreshTokens:  {Reason: "authentication records, small and expiring"},
	CollRefreshUsed:    {Reason: "authentication records, small and expiring"},
	CollRevokedFamily:  {Reason: "authentication records, small and expiring"},
	CollSessions:       {Reason: "authentication records, small and expiring"},
	CollIdentities:     {Reason: "one document an external login, unique (issuer, subject)"},
	CollPushTokens:     {Reason: "unique (platform, token), a few documents a user"},
	CollBans:           {Reason: "a few documents, read by user"},
	CollFiles:          {Reason: "file records are read by id and swept by age; one document an upload"},
	CollPins:           {Reason: "at most a few documents a room"},
	CollJoinRequests:   {Reason: "small, short-lived"},
	CollInviteLinks:    {Reason: "unique token hash, a few documents a room"},
	CollInviteUses:     {Reason: "unique (link, n) and (link, user), a few documents a link"},
	CollMemberLocks:    {Reason: "lock documents, empty but for calls in progress"},
	CollPasswordLocks:  {Reason: "lock documents, empty but for calls in progress"},
	CollMessageLocks:   {Reason: "lock documents, empty but for calls in progress"},
	CollFileLocks:      {Reason: "lock documents, empty but for calls in progress"},
}
