package mongo_test

import (
	"context"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/storetest"
)

// The "create once" rules rest on unique indexes: of N racing inserts of
// the same key exactly one must win, the rest get ErrDuplicate.

func TestConcurrentOpen(t *testing.T) {
	uri, db := testenv.MongoDB(t)
	ctx := testCtx(t)
	stores := make([]*mongo.Store, 4)
	errs := storetest.Race(len(stores), func(i int) error {
		var err error
		stores[i], err = mongo.Open(ctx, uri, db, mongo.Options{})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	for _, s := range stores {
		if s != nil {
			defer func() { _ = s.Close(context.Background()) }()
		}
	}
	if t.Failed() {
		return
	}
	mustNil(t, "CreateUser", stores[0].CreateUser(ctx, newUser("u1", "alice")))
	wantErr(t, "index still enforced", stores[1].CreateUser(ctx, newUser("u2", "alice")), store.ErrDuplicate)
}
