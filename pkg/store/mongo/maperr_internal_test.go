package mongo

import (
	"errors"
	"testing"

	mdb "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// FerretDB's answers when it is overloaded are unavailable (clients
// retry), not internal errors; other server errors stay what they are.
func TestMapErrOverloaded(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{mdb.CommandError{Code: 1, Name: "InternalError",
			Message: "[msg_find.go:344 handler.handleMaxTimeMSError] [collection.go:94 sqlite.(*collection).Query] interrupted (9)"}, store.ErrUnavailable},
		{mdb.CommandError{Code: 1, Name: "InternalError", Message: "database is locked (5) (SQLITE_BUSY)"}, store.ErrUnavailable},
		{mdb.CommandError{Code: 50, Name: "MaxTimeMSExpired", Message: "operation exceeded time limit"}, store.ErrUnavailable},
		{mdb.CommandError{Code: 2, Name: "BadValue", Message: "bad value"}, nil},
	} {
		got := mapErr("op", tc.err)
		if tc.want != nil && !errors.Is(got, tc.want) {
			t.Errorf("mapErr(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if tc.want == nil && errors.Is(got, store.ErrUnavailable) {
			t.Errorf("mapErr(%v) = %v: a plain server error read as unavailable", tc.err, got)
		}
	}
}
