package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
)

// User is a seeded account with its access token.
type User struct {
	ID      string
	Account string
	Token   string
}

// Seeder writes users, rooms, memberships and friendships in bulk with
// mongo.Store.InsertMany (unordered InsertMany into the store's
// collections), so that 100,000 users take seconds rather than 100,000
// registrations. Everything it inserts carries the run id in its
// account or name and can be removed with Cleanup.
type Seeder struct {
	mem    store.Store // instead of MongoDB: write through the store interface
	client *mdb.Client
	db     *mdb.Database
	st     *mongo.Store // on db, for InsertMany
	run    string
	batch  int

	mu                sync.Mutex
	users, rooms      []string
	created           time.Time
	entropy           *ulid.MonotonicEntropy
	entropyMu         sync.Mutex
	InsertedDocuments int64
	InsertedIn        time.Duration
}

// OpenSeeder connects to uri and makes sure the store's indexes exist.
func OpenSeeder(ctx context.Context, uri, dbName, run string) (*Seeder, error) {
	client, err := mdb.Connect(options.Client().ApplyURI(uri).SetConnectTimeout(5 * time.Second).
		SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("seed: connect: %w", err)
	}
	db := client.Database(dbName)
	st := mongo.New(db, mongo.Options{})
	if err := st.EnsureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("seed: indexes: %w", err)
	}
	return &Seeder{client: client, db: db, st: st, run: run, batch: 1000,
		created: time.Now().UTC().Truncate(time.Millisecond),
		entropy: ulid.Monotonic(rand.Reader, 0)}, nil
}

// MemSeeder seeds through a store.Store (the in-memory one).
func MemSeeder(st store.Store, run string) *Seeder {
	return &Seeder{mem: st, run: run, batch: 1000, created: time.Now().UTC().Truncate(time.Millisecond),
		entropy: ulid.Monotonic(rand.Reader, 0)}
}

func (s *Seeder) memInsert(ctx context.Context, docs []any) error {
	for _, d := range docs {
		var err error
		switch x := d.(type) {
		case *store.User:
			err = s.mem.CreateUser(ctx, x)
		case *store.Room:
			err = s.mem.CreateRoom(ctx, x)
		case *store.Member:
			err = s.mem.AddMember(ctx, x)
		case *store.Friendship:
			err = s.mem.CreateFriendship(ctx, x)
		default:
			err = fmt.Errorf("seed: cannot store %T", d)
		}
		if err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.InsertedDocuments += int64(len(docs))
	s.mu.Unlock()
	return nil
}

func (s *Seeder) newID() string {
	s.entropyMu.Lock()
	defer s.entropyMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(time.Now()), s.entropy).String()
}

// insert writes docs in batches, two batches in flight.
func (s *Seeder) insert(ctx context.Context, coll string, docs []any) error {
	if s.mem != nil {
		return s.memInsert(ctx, docs)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	sem := make(chan struct{}, 2)
	for i := 0; i < len(docs); i += s.batch {
		part := docs[i:min(i+s.batch, len(docs))]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.st.InsertMany(ctx, part); err != nil {
				select {
				case errc <- fmt.Errorf("seed: insert into %s: %w", coll, err):
				default:
				}
			}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	s.InsertedDocuments += int64(len(docs))
	s.InsertedIn += time.Since(start)
	s.mu.Unlock()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// Users inserts n users.
func (s *Seeder) Users(ctx context.Context, n int) ([]*User, error) {
	out := make([]*User, n)
	docs := make([]any, n)
	for i := range n {
		acc := fmt.Sprintf("%s_%d", s.run, i)
		u := &store.User{ID: s.newID(), Account: acc, Email: acc + "@bench.invalid",
			PasswordHash: "!", Nickname: fmt.Sprintf("bench %d", i), CreatedAt: s.created, UpdatedAt: s.created}
		docs[i] = u
		out[i] = &User{ID: u.ID, Account: acc}
	}
	if err := s.insert(ctx, mongo.CollUsers, docs); err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, u := range out {
		s.users = append(s.users, u.ID)
	}
	s.mu.Unlock()
	return out, nil
}

// Group creates a group room owned by members[0] with every member in it.
func (s *Seeder) Group(ctx context.Context, name string, members []*User) (string, error) {
	r := &store.Room{ID: s.newID(), Type: store.RoomGroup, Number: s.run + "-" + name, Name: name,
		Owner: members[0].ID, CreatedAt: s.created, UpdatedAt: s.created}
	if err := s.insert(ctx, mongo.CollRooms, []any{r}); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.rooms = append(s.rooms, r.ID)
	s.mu.Unlock()
	docs := make([]any, len(members))
	for i, u := range members {
		docs[i] = &store.Member{RoomID: r.ID, UserID: u.ID, RoomType: store.RoomGroup, CreatedAt: s.created}
	}
	return r.ID, s.insert(ctx, mongo.CollMembers, docs)
}

// Pairs makes users 2k and 2k+1 friends, each pair with its direct room,
// exactly as an accepted friend request leaves them. It returns the rooms.
func (s *Seeder) Pairs(ctx context.Context, users []*User) ([]string, error) {
	n := len(users) / 2
	rooms := make([]any, n)
	members := make([]any, 0, 2*n)
	friends := make([]any, n)
	ids := make([]string, n)
	for k := range n {
		a, b := users[2*k], users[2*k+1]
		lo, hi, key := store.PairKey(a.ID, b.ID)
		id := s.newID()
		ids[k] = id
		rooms[k] = &store.Room{ID: id, Type: store.RoomDirect, PairKey: key, CreatedAt: s.created, UpdatedAt: s.created}
		friends[k] = &store.Friendship{UserA: lo, UserB: hi, RoomID: id, CreatedAt: s.created}
		members = append(members,
			&store.Member{RoomID: id, UserID: a.ID, RoomType: store.RoomDirect, CreatedAt: s.created},
			&store.Member{RoomID: id, UserID: b.ID, RoomType: store.RoomDirect, CreatedAt: s.created})
	}
	if err := s.insert(ctx, mongo.CollRooms, rooms); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.rooms = append(s.rooms, ids...)
	s.mu.Unlock()
	if err := s.insert(ctx, mongo.CollFriendships, friends); err != nil {
		return nil, err
	}
	return ids, s.insert(ctx, mongo.CollMembers, members)
}

// Cleanup deletes what this seeder inserted and the messages of its rooms.
func (s *Seeder) Cleanup(ctx context.Context) error {
	if s.mem != nil {
		return nil
	}
	s.mu.Lock()
	users, rooms := s.users, s.rooms
	s.mu.Unlock()
	del := func(coll, field string, ids []string) error {
		for i := 0; i < len(ids); i += 5000 {
			part := ids[i:min(i+5000, len(ids))]
			if _, err := s.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: part}}}}); err != nil {
				return fmt.Errorf("cleanup %s: %w", coll, err)
			}
		}
		return nil
	}
	for _, st := range []struct {
		coll, field string
		ids         []string
	}{
		{mongo.CollMessages, "room_identity", rooms},
		{mongo.CollMembers, "room_identity", rooms},
		{mongo.CollFriendships, "room_identity", rooms},
		{mongo.CollRooms, "_id", rooms},
		{mongo.CollUsers, "_id", users},
	} {
		if err := del(st.coll, st.field, st.ids); err != nil {
			return err
		}
	}
	return nil
}

// Close disconnects.
func (s *Seeder) Close() {
	if s.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.client.Disconnect(ctx)
}

// MintTokens issues an access token for every user, in parallel.
func MintTokens(iss *auth.Issuer, users []*User) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(users); i += workers {
				tok, _, err := iss.Issue(users[i].ID)
				if err != nil {
					once.Do(func() { first = err })
					return
				}
				users[i].Token = tok
			}
		}()
	}
	wg.Wait()
	return first
}
