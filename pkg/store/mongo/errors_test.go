package mongo_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
)

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestOpenUnreachable(t *testing.T) {
	ctx := testCtx(t)
	start := time.Now()
	_, err := mongo.Open(ctx, "mongodb://"+closedPort(t)+"/?directConnection=true", "x",
		mongo.Options{ConnectTimeout: 200 * time.Millisecond, ServerSelectionTimeout: 300 * time.Millisecond})
	wantErr(t, "Open on a closed port", err, store.ErrUnavailable)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Open took %v despite short timeouts", d)
	}
}

func TestOpenBadArguments(t *testing.T) {
	ctx := testCtx(t)
	if _, err := mongo.Open(ctx, "not a uri", "x", mongo.Options{}); err == nil {
		t.Fatal("Open with a bad URI: no error")
	}
	uri, _ := testenv.MongoDB(t)
	if _, err := mongo.Open(ctx, uri, "", mongo.Options{}); err == nil {
		t.Fatal("Open with an empty database name: no error")
	}
}

func TestUseAfterClose(t *testing.T) {
	uri, db := testenv.MongoDB(t)
	ctx := testCtx(t)
	s, err := mongo.Open(ctx, uri, db, mongo.Options{})
	mustNil(t, "Open", err)
	mustNil(t, "Ping", s.Ping(ctx))
	mustNil(t, "Close", s.Close(ctx))
	mustNil(t, "Close again", s.Close(ctx))
	_, err = s.UserByID(ctx, "u1")
	wantErr(t, "UserByID after Close", err, store.ErrUnavailable)
	wantErr(t, "Ping after Close", s.Ping(ctx), store.ErrUnavailable)
}

func TestCancelledContextIsNotUnavailable(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.UserByID(ctx, "u1")
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("cancelled context: got %v, want context.Canceled and not ErrUnavailable", err)
	}
}

// Open is idempotent on an existing database, and New works on a client
// the caller owns (Close leaves it connected).
func TestReopenAndNew(t *testing.T) {
	uri, db := testenv.MongoDB(t)
	ctx := testCtx(t)
	s1, err := mongo.Open(ctx, uri, db, mongo.Options{})
	mustNil(t, "Open", err)
	mustNil(t, "CreateUser", s1.CreateUser(ctx, newUser("u1", "alice")))
	mustNil(t, "Close", s1.Close(ctx))

	s2, err := mongo.Open(ctx, uri, db, mongo.Options{})
	mustNil(t, "Open again", err)
	defer s2.Close(ctx)
	_, err = s2.UserByAccount(ctx, "alice")
	mustNil(t, "data kept", err)

	client, err := mdb.Connect(options.Client().ApplyURI(uri))
	mustNil(t, "Connect", err)
	defer client.Disconnect(ctx)
	s3 := mongo.New(client.Database(db), mongo.Options{})
	mustNil(t, "EnsureIndexes", s3.EnsureIndexes(ctx))
	wantErr(t, "index via New", s3.CreateUser(ctx, newUser("u2", "alice")), store.ErrDuplicate)
	mustNil(t, "Close of New", s3.Close(ctx))
	mustNil(t, "client still usable", client.Ping(ctx, nil))
}
