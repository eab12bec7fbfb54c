package testenv

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/embeddb"
)

var (
	mongoOnce sync.Once
	mongoURI  string
	mongoErr  error
)

// MongoURI returns the URI of the shared MongoDB wire server:
// IM_TEST_MONGO_URI, or FerretDB embedded in this process.
func MongoURI(tb testing.TB) string {
	tb.Helper()
	mongoOnce.Do(func() {
		if u := os.Getenv("IM_TEST_MONGO_URI"); u != "" {
			mongoURI = u
			logf("using MongoDB at IM_TEST_MONGO_URI")
			return
		}
		dir, err := os.MkdirTemp("", "im-ferretdb-")
		if err != nil {
			mongoErr = err
			return
		}
		var stop func()
		mongoURI, stop, mongoErr = StartFerretDB(dir, "127.0.0.1:0")
		if mongoErr != nil {
			return
		}
		logf("started embedded FerretDB (sqlite) at %s", strings.TrimSuffix(mongoURI, "/"))
		atExit(func() { stop(); _ = os.RemoveAll(dir) })
	})
	if mongoErr != nil {
		tb.Fatalf("testenv: mongo: %v", mongoErr)
	}
	return mongoURI
}

// MongoDB returns the shared server's URI and a database name of its own.
func MongoDB(tb testing.TB) (uri, db string) {
	return MongoURI(tb), UniqueName("t")
}

// StartFerretDB runs FerretDB's sqlite handler on dir, listening on addr.
// It returns the mongodb:// URI and a function that stops it.
func StartFerretDB(dir, addr string) (string, func(), error) {
	s, err := embeddb.Start(dir, addr, nil)
	if err != nil {
		return "", nil, err
	}
	return s.URI, s.Stop, nil
}
