// Package mongo implements store.Store on MongoDB (or any server speaking
// its wire protocol, such as FerretDB) with go.mongodb.org/mongo-driver/v2.
//
// Every "create once" rule of package store rests on a unique index, never
// on an atomic read-modify-write of one document, because FerretDB loses
// concurrent $inc/findAndModify updates and has no transactions. The
// read-modify-writes are made exact with lock documents, whose unique _id
// FerretDB does enforce: raising a read mark (SetReadSeq) is a $max update
// on MongoDB and is serialised by a member_lock document on FerretDB; a
// password change (SetPasswordHash), a compare-and-swap, takes a
// password_lock document on either server. The rich message writes follow
// the same rules (rich.go): reactions and hidden messages are documents
// under unique indexes, counted rather than kept in counters; edits and
// recalls, mention marks and file attachments are conditional updates,
// serialised on FerretDB by message_lock, member_lock (shared with
// SetReadSeq, as both write a membership) and file_lock documents. Fields that
// only some documents carry (a group's number, a direct room's pair key) are
// omitted when empty and indexed with sparse unique indexes: FerretDB v1
// does not implement partialFilterExpression, and sparse indexes behave the
// same on MongoDB and FerretDB.
//
// Times are stored in UTC, truncated to milliseconds (the precision of BSON
// dates); the Create and Insert methods normalise the times of the value
// they are given in place, so it compares equal to what a read returns.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Collection names.
const (
	CollUsers          = "user_basic"
	CollRooms          = "room_basic"
	CollMembers        = "user_room"
	CollFriendships    = "friendship"
	CollFriendRequests = "friend_request"
	CollMessages       = "message_basic"
	CollRefreshTokens  = "refresh_token"
	CollRefreshUsed    = "refresh_used"
	CollRevokedFamily  = "revoked_family"
	// CollMemberLocks holds the short-lived lock documents with which
	// SetReadSeq serialises its read-modify-write on FerretDB; it is empty
	// but for calls in progress (and the locks of crashed callers).
	CollMemberLocks = "member_lock"
	CollSessions    = "session"
	// CollPasswordLocks holds the short-lived lock documents with which
	// SetPasswordHash makes its compare-and-swap exact (see there); it is
	// empty but for calls in progress (and the locks of crashed callers).
	CollPasswordLocks = "password_lock"
	// CollReactions holds one document a reaction; counts are counted.
	CollReactions = "message_reaction"
	// CollHidden holds the messages users hid from themselves.
	CollHidden = "message_hidden"
	// CollFiles holds the records of uploaded attachments.
	CollFiles = "file_basic"
	// CollMessageLocks and CollFileLocks hold the short-lived lock
	// documents with which EditMessage and RecallMessage (a message), and
	// AttachFile and MarkFileDeleted (a file), serialise their writes on
	// FerretDB, as member_lock does SetReadSeq's.
	CollMessageLocks = "message_lock"
	CollFileLocks    = "file_lock"
	// Group administration: pinned messages (unique (room, seq) and
	// (room, slot)), join requests (unique (room, user)), invite links
	// and their numbered uses (unique (link, n) and (link, user)).
	CollPins         = "room_pin"
	CollJoinRequests = "join_request"
	CollInviteLinks  = "invite_link"
	CollInviteUses   = "invite_use"
	// CollBlocks holds one document a block (store.Block).
	CollBlocks = "user_block"
	// CollUserPresence holds a user's presence setting and last seen time
	// (store.User.HidePresence, LastSeenAt), apart from the user document:
	// FerretDB applies an update as a read and a replace of the whole
	// document, so a last seen time written by a gateway while the user
	// changes their profile would undo one of them. One document each,
	// _id "<user>/hide" {hide} and "<user>/seen" {at}, replaced whole, so
	// writers of different fields never meet; the _id index serves every
	// read (one $in query with the users').
	CollUserPresence = "user_presence"
)

// TTLGrace is how long after its expires_at MongoDB's TTL monitor deletes
// a refresh token or a session. The TTL indexes are a backstop: the sweep
// (PurgeExpired), which also deletes the used-token and revoked-family
// records that go with them, is meant to get there first. FerretDB has no
// TTL monitor; there the sweep does it all.
const TTLGrace = 24 * time.Hour

// Query limits of MessagesAfter and MessagesBefore.
const (
	DefaultLimit = 50   // used when limit <= 0
	MaxLimit     = 1000 // larger limits are lowered to this
)

// Options tunes a Store. The zero value is usable: every zero field takes
// the default named in its comment.
type Options struct {
	// ConnectTimeout bounds opening one connection. Default 5s.
	ConnectTimeout time.Duration
	// ServerSelectionTimeout bounds waiting for a usable server before an
	// operation fails with store.ErrUnavailable. Default 5s.
	ServerSelectionTimeout time.Duration
	// OpTimeout bounds each operation whose context has no deadline.
	// Default 10s.
	OpTimeout time.Duration
	// WriteConcern is the write concern of every write: "majority" (the
	// default) or "1". With "majority" an acknowledged write (a send's
	// ack) survives the failover of the primary; with "1" a write the
	// primary acknowledged but did not replicate yet is rolled back by a
	// failover. Used by Open only.
	WriteConcern string
	// ReadPreference is the read preference of the reads: "primary" (the
	// default), "primaryPreferred", "secondaryPreferred" or "nearest".
	// Reads from a secondary may be stale. The reads that decide a send
	// (MessageByClientID, LastMessage, MessageAt) always read the primary.
	// Used by Open only.
	ReadPreference string
}

// Write concerns and read preferences of Options.
const (
	WriteMajority = "majority"
	WriteOne      = "1"

	ReadPrimary            = "primary"
	ReadPrimaryPreferred   = "primaryPreferred"
	ReadSecondaryPreferred = "secondaryPreferred"
	ReadNearest            = "nearest"
)

// ParseWriteConcern returns the write concern named s ("" is
// WriteMajority), or an error naming the allowed values.
func ParseWriteConcern(s string) (*writeconcern.WriteConcern, error) {
	switch s {
	case "", WriteMajority:
		return writeconcern.Majority(), nil
	case WriteOne:
		return writeconcern.W1(), nil
	}
	return nil, fmt.Errorf("mongo: write concern %q: want %q or %q", s, WriteMajority, WriteOne)
}

// ParseReadPreference returns the read preference named s ("" is
// ReadPrimary), or an error naming the allowed values.
func ParseReadPreference(s string) (*readpref.ReadPref, error) {
	switch s {
	case "", ReadPrimary:
		return readpref.Primary(), nil
	case ReadPrimaryPreferred:
		return readpref.PrimaryPreferred(), nil
	case ReadSecondaryPreferred:
		return readpref.SecondaryPreferred(), nil
	case ReadNearest:
		return readpref.Nearest(), nil
	}
	return nil, fmt.Errorf("mongo: read preference %q: want one of %s, %s, %s, %s",
		s, ReadPrimary, ReadPrimaryPreferred, ReadSecondaryPreferred, ReadNearest)
}

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.ServerSelectionTimeout <= 0 {
		o.ServerSelectionTimeout = 5 * time.Second
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 10 * time.Second
	}
	return o
}

// Store is the MongoDB implementation of store.Store. It is safe for
// concurrent use.
type Store struct {
	db        *mdb.Database
	opTimeout time.Duration
	owned     bool // Close disconnects the client

	users, rooms, members, friendships, requests *mdb.Collection
	messages, tokens, used, revoked, locks       *mdb.Collection
	primaryMessages                              *mdb.Collection // messages, read from the primary
	sessions, pwLocks                            *mdb.Collection
	reactions, hidden, files                     *mdb.Collection
	msgLocks, fileLocks, blocks, presence        *mdb.Collection
	pins, joinReqs, links, linkUses              *mdb.Collection

	local     keyedMutex // the lock paths on FerretDB: one caller per locked document
	kindMu    sync.Mutex // guards kindKnown and ferret
	kindKnown bool       // ferret holds the answer of buildInfo
	ferret    bool       // the server is FerretDB
}

var _ store.Store = (*Store)(nil)

// Open connects to uri, pings the server, detects whether it is FerretDB
// (see SetReadSeq), creates the indexes (idempotent) and returns a Store on
// database dbName. Close disconnects it.
func Open(ctx context.Context, uri, dbName string, opts Options) (*Store, error) {
	if dbName == "" {
		return nil, errors.New("mongo: open: empty database name")
	}
	opts = opts.withDefaults()
	co, err := clientOptions(uri, opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: open: %w", err)
	}
	client, err := mdb.Connect(co)
	if err != nil {
		return nil, mapErr("open", err)
	}
	s := newStore(client.Database(dbName), opts)
	s.owned = true
	fail := func(err error) (*Store, error) {
		dctx, cancel := context.WithTimeout(context.Background(), opts.ConnectTimeout)
		defer cancel()
		_ = client.Disconnect(dctx)
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		return fail(fmt.Errorf("mongo: open: %w", err))
	}
	if _, err := s.isFerretDB(ctx); err != nil {
		return fail(fmt.Errorf("mongo: open: %w", err))
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// clientOptions are the options of the client Open makes: opts' timeouts,
// write concern and read preference, which override the URI's.
func clientOptions(uri string, opts Options) (*options.ClientOptions, error) {
	wc, err := ParseWriteConcern(opts.WriteConcern)
	if err != nil {
		return nil, err
	}
	rp, err := ParseReadPreference(opts.ReadPreference)
	if err != nil {
		return nil, err
	}
	return options.Client().ApplyURI(uri).
		SetConnectTimeout(opts.ConnectTimeout).
		SetServerSelectionTimeout(opts.ServerSelectionTimeout).
		SetWriteConcern(wc).
		SetReadPreference(rp), nil
}

// New returns a Store on db without doing any I/O; call EnsureIndexes
// before relying on the uniqueness rules. The server's kind (see
// SetReadSeq) is asked on first need. Close does not disconnect db's
// client, which stays the caller's. Only opts.OpTimeout is used.
func New(db *mdb.Database, opts Options) *Store {
	return newStore(db, opts.withDefaults())
}

func newStore(db *mdb.Database, opts Options) *Store {
	return &Store{
		db:          db,
		opTimeout:   opts.OpTimeout,
		users:       db.Collection(CollUsers),
		rooms:       db.Collection(CollRooms),
		members:     db.Collection(CollMembers),
		friendships: db.Collection(CollFriendships),
		requests:    db.Collection(CollFriendRequests),
		messages:    db.Collection(CollMessages),
		primaryMessages: db.Collection(CollMessages,
			options.Collection().SetReadPreference(readpref.Primary())),
		tokens:    db.Collection(CollRefreshTokens),
		used:      db.Collection(CollRefreshUsed),
		revoked:   db.Collection(CollRevokedFamily),
		locks:     db.Collection(CollMemberLocks),
		sessions:  db.Collection(CollSessions),
		pwLocks:   db.Collection(CollPasswordLocks),
		reactions: db.Collection(CollReactions),
		hidden:    db.Collection(CollHidden),
		files:     db.Collection(CollFiles),
		msgLocks:  db.Collection(CollMessageLocks),
		fileLocks: db.Collection(CollFileLocks),
		pins:      db.Collection(CollPins),
		joinReqs:  db.Collection(CollJoinRequests),
		links:     db.Collection(CollInviteLinks),
		linkUses:  db.Collection(CollInviteUses),
		blocks:    db.Collection(CollBlocks),
		presence:  db.Collection(CollUserPresence),
	}
}

// EnsureIndexes creates every index the store relies on. It is idempotent.
// The indexes on expires_at are TTL indexes (see TTLGrace) but on FerretDB,
// which has no TTL monitor (the server's kind is asked if not known yet).
func (s *Store) EnsureIndexes(ctx context.Context) error {
	ferret, err := s.isFerretDB(ctx)
	if err != nil {
		return fmt.Errorf("mongo: ensure indexes: %w", err)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	unique := func() *options.IndexOptionsBuilder { return options.Index().SetUnique(true) }
	expiry := func() *options.IndexOptionsBuilder {
		if ferret {
			return options.Index()
		}
		return options.Index().SetExpireAfterSeconds(int32(TTLGrace / time.Second))
	}
	keys := func(fields ...string) bson.D {
		d := make(bson.D, 0, len(fields))
		for _, f := range fields {
			d = append(d, bson.E{Key: f, Value: 1})
		}
		return d
	}
	specs := []indexSpec{
		{s.users, []mdb.IndexModel{
			{Keys: keys("account"), Options: unique()},
			{Keys: keys("email"), Options: unique()},
			{Keys: keys("release_pending"), Options: options.Index().SetSparse(true)},
		}},
		{s.rooms, []mdb.IndexModel{
			{Keys: keys("number"), Options: unique().SetSparse(true)},
			{Keys: keys("pair_key"), Options: unique().SetSparse(true)},
		}},
		{s.members, []mdb.IndexModel{
			// The rule leads with the shard key (ShardKeys); the
			// membership check and the read mark name both.
			{Keys: keys("user_identity", "room_identity"), Options: unique()},
			// ReadCounts: the read marks of a room at or past a seq.
			{Keys: keys("room_identity", "read_seq", "user_identity")},
		}},
		{s.blocks, []mdb.IndexModel{
			{Keys: keys("blocker", "blocked"), Options: unique()},
			{Keys: keys("blocked")},
		}},
		{s.friendships, []mdb.IndexModel{
			{Keys: keys("user_a", "user_b"), Options: unique()},
			{Keys: keys("user_b")},
		}},
		{s.requests, []mdb.IndexModel{
			{Keys: keys("from", "to"), Options: unique()},
			{Keys: keys("to")},
		}},
		{s.messages, []mdb.IndexModel{
			{Keys: keys("room_identity", "seq"), Options: unique()},
			// Idempotency, room-scoped: led by the shard key.
			{Keys: keys("room_identity", "user_identity", "client_msg_id"), Options: unique()},
		}},
		{s.tokens, []mdb.IndexModel{
			{Keys: keys("family")},
			{Keys: keys("expires_at"), Options: expiry()},
		}},
		{s.sessions, []mdb.IndexModel{
			{Keys: keys("user_id", "created_at")},
			{Keys: keys("expires_at"), Options: expiry()},
		}},
		{s.reactions, []mdb.IndexModel{
			// The rule, and ReactionCounts by (room, seqs).
			{Keys: keys("room_identity", "seq", "emoji", "user_identity"), Options: unique()},
			// Reactors.
			{Keys: keys("room_identity", "seq", "emoji", "created_at", "user_identity")},
		}},
		{s.hidden, []mdb.IndexModel{
			{Keys: keys("user_identity", "room_identity", "seq"), Options: unique()},
		}},
		{s.files, []mdb.IndexModel{
			{Keys: keys("room_identity", "message_seq")}, // FilesOfMessage
			{Keys: keys("message_seq", "created_at")},    // OrphanFiles
		}},
		{s.pins, []mdb.IndexModel{
			{Keys: keys("room_identity", "seq"), Options: unique()},
			{Keys: keys("room_identity", "slot"), Options: unique()},
		}},
		{s.joinReqs, []mdb.IndexModel{
			{Keys: keys("room_identity", "user_identity"), Options: unique()},
			{Keys: keys("room_identity", "created_at")},
		}},
		{s.links, []mdb.IndexModel{
			{Keys: keys("token_hash"), Options: unique()},
			{Keys: keys("room_identity", "created_at")},
		}},
		{s.linkUses, []mdb.IndexModel{
			{Keys: keys("link_id", "n"), Options: unique()},
			{Keys: keys("link_id", "user_identity"), Options: unique()},
		}},
		{s.db.Collection(CollIdentities), []mdb.IndexModel{
			// One link per external identity: two first sights at once
			// create one (identities.go).
			{Keys: keys("issuer", "subject"), Options: unique()},
		}},
		{s.db.Collection(CollPushTokens), []mdb.IndexModel{
			// A token belongs to one session (push.go).
			{Keys: keys("platform", "token"), Options: unique()},
			{Keys: keys("user_id")},                  // PushTokensOf
			{Keys: keys("session_id", "created_at")}, // PushTokensOfSession, RemovePushTokensOfSession
		}},
	}
	// The new rules are made before the old ones are dropped, so one of
	// them holds at every moment of an upgrade; then the indexes that reuse
	// an old one's name.
	late := []indexSpec{
		// Members, MembersPage, CountMembers (the room side); the name of
		// the unique index of earlier versions.
		{s.members, []mdb.IndexModel{{Keys: keys("room_identity", "user_identity")}}},
	}
	if err := createIndexes(ctx, specs); err != nil {
		return err
	}
	if err := s.dropObsoleteIndexes(ctx); err != nil {
		return err
	}
	return createIndexes(ctx, late)
}

// indexSpec is the indexes of one collection.
type indexSpec struct {
	coll   *mdb.Collection
	models []mdb.IndexModel
}

// createIndexes creates the models of each collection, one per command:
// FerretDB v1.24 drops the connection when a createIndexes command lists
// two or more indexes that already exist. A command that fails as
// unavailable (a timeout on a busy server: creating an index scans the
// collection) is tried again, a few times with a growing pause: creating
// an index is idempotent, and a node that exits at start because the
// database was slow for a moment helps nobody.
func createIndexes(ctx context.Context, specs []indexSpec) error {
	for _, sp := range specs {
		for _, m := range sp.models {
			if err := createIndex(ctx, sp.coll, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexTries is how many times createIndex tries one index.
const indexTries = 4

func createIndex(ctx context.Context, coll *mdb.Collection, m mdb.IndexModel) error {
	pause := 250 * time.Millisecond
	for try := 1; ; try++ {
		_, err := coll.Indexes().CreateOne(ctx, m)
		if err == nil {
			return nil
		}
		err = mapErr("create index on "+coll.Name(), err)
		if try == indexTries || !errors.Is(err, store.ErrUnavailable) {
			return err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
		pause *= 2
	}
}

// obsoleteIndexes are unique indexes of earlier versions that are not led
// by their collection's shard key (ShardKeys): (sender, client_msg_id) of
// messages, now room-scoped, and (room, user) of memberships, now (user,
// room). Only a unique index of that name is dropped: the memberships'
// (room, user) index is made again, not unique. EnsureIndexes drops them
// after it made their successors, so no rule lapses during an upgrade.
var obsoleteIndexes = []struct{ coll, name string }{
	{CollMessages, "user_identity_1_client_msg_id_1"},
	{CollMembers, "room_identity_1_user_identity_1"},
}

// dropObsoleteIndexes drops the obsoleteIndexes a database made by an
// earlier version still has, before EnsureIndexes makes their successors.
func (s *Store) dropObsoleteIndexes(ctx context.Context) error {
	for _, o := range obsoleteIndexes {
		c := s.db.Collection(o.coll)
		cur, err := c.Indexes().List(ctx)
		if err != nil {
			return mapErr("list indexes of "+o.coll, err)
		}
		var specs []struct {
			Name   string `bson:"name"`
			Unique bool   `bson:"unique"`
		}
		if err := cur.All(ctx, &specs); err != nil {
			return mapErr("list indexes of "+o.coll, err)
		}
		for _, sp := range specs {
			if sp.Name == o.name && sp.Unique {
				if err := c.Indexes().DropOne(ctx, o.name); err != nil {
					return mapErr("drop index "+o.name+" of "+o.coll, err)
				}
			}
		}
	}
	return nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return mapErr("ping", s.db.Client().Ping(ctx, nil))
}

// Close disconnects the client if the Store was made by Open; it does
// nothing for a Store made by New.
func (s *Store) Close(ctx context.Context) error {
	if !s.owned {
		return nil
	}
	if err := s.db.Client().Disconnect(ctx); err != nil && !errors.Is(err, mdb.ErrClientDisconnected) {
		return fmt.Errorf("mongo: close: %w", err)
	}
	return nil
}

// opCtx applies the operation timeout to a context without a deadline.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opTimeout)
}

// mapErr translates a driver error into the errors of package store, with
// op as context: a missing document is store.ErrNotFound, a unique index
// violation store.ErrDuplicate, and a network failure, a timeout or a
// disconnected client store.ErrUnavailable. A cancelled context stays a
// cancellation.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mdb.ErrNoDocuments):
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	case mdb.IsDuplicateKeyError(err), ferretUniqueViolation(err):
		return fmt.Errorf("mongo: %s: %w: %w", op, store.ErrDuplicate, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("mongo: %s: %w", op, err)
	case mdb.IsNetworkError(err), mdb.IsTimeout(err), errors.Is(err, mdb.ErrClientDisconnected), transient(err), overloaded(err):
		return fmt.Errorf("mongo: %s: %w: %w", op, store.ErrUnavailable, err)
	default:
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
}

// ferretUniqueViolation reports FerretDB's answer to an update that breaks
// a unique index: its SQLite backend enforces the index but reports the
// violation of an update (an insert's is a proper E11000) as an
// InternalError quoting SQLite's "UNIQUE constraint failed".
func ferretUniqueViolation(err error) bool {
	var se mdb.ServerError
	return errors.As(err, &se) && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// overloaded reports a server's "too long" answers: MongoDB's
// MaxTimeMSExpired (code 50), and FerretDB's InternalError when its SQLite
// backend interrupted a query at the time limit or found the database
// locked. Both mean "unavailable for now" (seen under load), not a bug.
func overloaded(err error) bool {
	var se mdb.ServerError
	if !errors.As(err, &se) {
		return false
	}
	if se.HasErrorCode(50) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "handleMaxTimeMSError") || strings.Contains(msg, "interrupted (9)") ||
		strings.Contains(msg, "database is locked")
}

// transient reports errors the driver marks as worth retrying: a cleared
// connection pool after a network failure, or a server error labelled
// retryable. They mean "unavailable for now", not a bug.
func transient(err error) bool {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) && r.Retryable() {
		return true
	}
	var se mdb.ServerError
	if !errors.As(err, &se) {
		return false
	}
	// FerretDB's sqlite backend answers a busy database file as an
	// InternalError: it is momentary contention, worth a retry.
	return se.HasErrorLabel("RetryableWriteError") || se.HasErrorLabel("NetworkError") ||
		se.HasErrorLabel("TransientTransactionError") || strings.Contains(err.Error(), "SQLITE_BUSY")
}

// dbTime returns t as stored: UTC, truncated to milliseconds.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// createdTime is dbTime, with the current time for a zero t.
func createdTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return dbTime(t)
}

func errNil(op, what string) error {
	return fmt.Errorf("mongo: %s: nil %s", op, what)
}

// findOne decodes the first document matching filter into out.
func (s *Store) findOne(ctx context.Context, op string, c *mdb.Collection, filter, out any, opts ...options.Lister[options.FindOneOptions]) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return mapErr(op, c.FindOne(ctx, filter, opts...).Decode(out))
}

// findAll decodes every document matching filter into out (a slice pointer)
// and closes the cursor.
func (s *Store) findAll(ctx context.Context, op string, c *mdb.Collection, filter, out any, opts ...options.Lister[options.FindOptions]) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return mapErr(op, err)
	}
	// All closes the cursor, even on error.
	return mapErr(op, cur.All(ctx, out))
}

// insert inserts doc into c.
func (s *Store) insert(ctx context.Context, op string, c *mdb.Collection, doc any) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := c.InsertOne(ctx, doc)
	return mapErr(op, err)
}

// deleteOne deletes the first document matching filter; store.ErrNotFound
// when there was none.
func (s *Store) deleteOne(ctx context.Context, op string, c *mdb.Collection, filter any) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := c.DeleteOne(ctx, filter)
	if err != nil {
		return mapErr(op, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// deleteMany deletes the documents matching filter and returns how many it
// deleted.
func (s *Store) deleteMany(ctx context.Context, op string, c *mdb.Collection, filter any) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := c.DeleteMany(ctx, filter)
	if err != nil {
		return 0, mapErr(op, err)
	}
	return res.DeletedCount, nil
}

// count counts the documents matching filter.
func (s *Store) count(ctx context.Context, op string, c *mdb.Collection, filter any, opts ...options.Lister[options.CountOptions]) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	n, err := c.CountDocuments(ctx, filter, opts...)
	return n, mapErr(op, err)
}
