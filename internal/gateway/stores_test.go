package gateway_test

import (
	"fmt"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
)

// The API and two gateway nodes on PostgreSQL (IM_STORE=postgres): members
// on both nodes get every acked message once, in order, from senders on
// both, and history holds exactly them.
func TestClusterOnPostgres(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{Store: "postgres"})
	room, owner, conns := groupAcrossNodes(t, cl, 6, "pg")
	acked := sendAllReliably(t, conns, room, 5, true)
	for i, c := range conns {
		expectExactly(t, fmt.Sprintf("member %d (node %d)", i, i%2), c, room, acked, prompt)
	}
	ids, _, more := history(t, cl, owner.Token, room)
	if len(ids) != len(acked) || more {
		t.Fatalf("history: %d messages (more=%v), want %d", len(ids), more, len(acked))
	}
}
