package mongo_test

import (
	"strings"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/storetest"
)

// TestRichMongoPath runs the conformance tests of the writes that have a
// MongoDB path and a FerretDB path (the conditional updates of rich
// messages, mentions and files, and the read marks they share documents
// with) on the MongoDB path, one call at a time: the embedded FerretDB
// runs those updates correctly when they do not race. TestConformance
// covers the FerretDB path, races included.
func TestRichMongoPath(t *testing.T) {
	groups := []string{"/RichMessages/", "/Mentions/", "/Files/", "/Members/"}
	storetest.Run(t, func(t *testing.T) store.Store {
		keep := false
		for _, g := range groups {
			keep = keep || strings.Contains(t.Name(), g)
		}
		if !keep {
			t.Skip("no MongoDB path")
		}
		s := openStore(t)
		mongo.SetServerKind(s, false)
		return s
	})
}
