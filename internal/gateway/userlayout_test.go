package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// In a rolling upgrade between user channel layouts, a publisher of one
// step and a gateway of the next (or the same) one see each user event
// exactly once: per-user -> both -> shards. The publisher here is the API
// (friend_added comes from the REST call); the gateway takes user events
// as its layout says.
func TestUserLayoutsRollingUpgrade(t *testing.T) {
	pairs := []struct{ pub, sub bus.UserLayout }{
		{bus.UserLayoutPerUser, bus.UserLayoutPerUser},
		{bus.UserLayoutPerUser, bus.UserLayoutBoth},
		{bus.UserLayoutBoth, bus.UserLayoutPerUser},
		{bus.UserLayoutBoth, bus.UserLayoutBoth},
		{bus.UserLayoutBoth, bus.UserLayoutShards},
		{bus.UserLayoutShards, bus.UserLayoutBoth},
		{bus.UserLayoutShards, bus.UserLayoutShards},
	}
	for _, p := range pairs {
		t.Run(fmt.Sprintf("%s->%s", p.pub, p.sub), func(t *testing.T) {
			cl := apitest.NewCluster(t, 1, apitest.Options{Config: func(c *config.Config) { c.BusUserLayout = p.pub }},
				func(o *gateway.Options) { o.UserLayout = p.sub })
			a, b, c := cl.Register("ul"), cl.Register("ul"), cl.Register("ul")
			wa := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
			cl.Settle()
			cl.Befriend(a, b)
			cl.Befriend(a, c) // the second event marks the end of the first's copies
			var got []string
			for len(got) < 2 {
				o, err := wa.WaitFor(10*time.Second, func(o protocol.Outbound) bool { return o.Event == protocol.EventFriendAdded })
				if err != nil {
					t.Fatalf("friend_added events so far %v: %v", got, err)
				}
				got = append(got, string(o.Data))
			}
			if got[0] == got[1] {
				t.Fatalf("the first friend_added came twice: %v", got)
			}
		})
	}
}
