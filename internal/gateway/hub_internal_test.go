package gateway

import (
	"fmt"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

// sameShard returns n user ids that hash to one user shard.
func sameShard(n int) []string {
	var ids []string
	want := -1
	for i := 0; len(ids) < n; i++ {
		id := fmt.Sprintf("user-%d", i)
		if sh := bus.UserShard(id); want < 0 || sh == want {
			want = sh
			ids = append(ids, id)
		}
	}
	return ids
}

// wanted lists the channels the hub wants.
func (h *hub) wanted() map[string]bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := map[string]bool{}
	for ch, st := range h.chans {
		if st&chWant != 0 {
			out[ch] = true
		}
	}
	return out
}

// With user shard channels, users hashed to one shard share its channel:
// the node wants it while any of them is connected here, and one channel
// per user in the per-user layout.
func TestHubUserShardChannels(t *testing.T) {
	ids := sameShard(2)
	other := "someone-else"
	for bus.UserShard(other) == bus.UserShard(ids[0]) {
		other += "+"
	}
	shared, single := bus.UserShardChannel(bus.UserShard(ids[0])), bus.UserShardChannel(bus.UserShard(other))

	h := newHub(nil, nil)
	h.shards = true
	c1, c2, c3, c1b := &client{uid: ids[0]}, &client{uid: ids[1]}, &client{uid: other}, &client{uid: ids[0]}
	for _, c := range []*client{c1, c2, c3, c1b} {
		if !h.join(c, nil, nil, 0) {
			t.Fatalf("join %s refused", c.uid)
		}
	}
	if w := h.wanted(); len(w) != 2 || !w[shared] || !w[single] {
		t.Fatalf("3 users on 2 shards: wanted %v", w)
	}
	h.leave(c1)
	h.leave(c2)
	if w := h.wanted(); !w[shared] {
		t.Fatalf("%s's second connection is still here: wanted %v", ids[0], w)
	}
	h.leave(c1b)
	if w := h.wanted(); len(w) != 1 || !w[single] {
		t.Fatalf("after the shard's last user left: wanted %v", w)
	}
	h.leave(c3)
	if w := h.wanted(); len(w) != 0 {
		t.Fatalf("nobody left: wanted %v", w)
	}

	h = newHub(nil, nil) // per-user channels
	for _, c := range []*client{c1, c2} {
		h.join(c, nil, nil, 0)
	}
	if w := h.wanted(); len(w) != 2 || !w[bus.UserChannel(ids[0])] || !w[bus.UserChannel(ids[1])] {
		t.Fatalf("per-user layout: wanted %v", w)
	}
}
