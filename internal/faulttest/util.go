package faulttest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

type contextLike = context.Context

func bg() context.Context { return context.Background() }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// recoverAll runs the documented recovery on every client, all at once:
// resend what was not acked (same client_msg_id), then reconnect and sync.
func recoverAll(t *testing.T, clients []*Client, deadline time.Time) {
	t.Helper()
	for _, phase := range []func(*Client, time.Time) error{(*Client).flush, (*Client).finish} {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func(c *Client) {
				defer wg.Done()
				if err := phase(c, deadline); err != nil {
					t.Error(err)
				}
			}(c)
		}
		wg.Wait()
	}
}

// readRoom reads a room back from the store: seq -> message id, holes
// left out, and how many holes there were.
func readRoom(t *testing.T, st store.Store, room string) (stored map[int64]string, holes int) {
	t.Helper()
	stored = map[int64]string{}
	for seq := int64(0); ; {
		ms, err := st.MessagesAfter(context.Background(), room, seq, 500)
		if err != nil {
			t.Fatalf("reading room %s back: %v", room, err)
		}
		for _, m := range ms {
			seq = m.Seq
			if m.Hole {
				holes++
				continue
			}
			stored[m.Seq] = m.ID
		}
		if len(ms) < 500 {
			return stored, holes
		}
	}
}

// rereadMissing reads again, a few times a second apart, the rooms where an
// acked message was not found at its seq, and says how the reads differed.
// Once (1 run in 4, a loaded machine) the first read of the embedded store
// missed 34 acked messages that every member had received: a message
// still missing after the re-reads is lost and checkStored fails; one
// found only on a re-read is stored, and the log tells the store's read
// apart from a loss.
func rereadMissing(t *testing.T, l *Ledger, st store.Store, stored map[string]map[int64]string) {
	t.Helper()
	missing := func() map[string]int {
		l.mu.Lock()
		defer l.mu.Unlock()
		rooms := map[string]int{}
		for _, a := range l.acks {
			if stored[a.room][a.seq] != a.id {
				rooms[a.room]++
			}
		}
		return rooms
	}
	rooms := missing()
	if len(rooms) == 0 {
		return
	}
	first := 0
	for _, n := range rooms {
		first += n
	}
	for try := 1; try <= 5 && len(rooms) > 0; try++ {
		time.Sleep(time.Second)
		for r := range rooms {
			stored[r], _ = readRoom(t, st, r)
		}
		rooms = missing()
		left := 0
		for _, n := range rooms {
			left += n
		}
		t.Logf("store read: %d acked messages missing at the first read of their rooms, %d after re-read %d", first, left, try)
	}
}

// checkStored fails the test unless every message is stored once and every
// acked one is in the store at its acked seq, and the clients saw no
// contradicting acks.
func checkStored(t *testing.T, l *Ledger, stored map[string]map[int64]string) {
	t.Helper()
	ids := map[string]int{}
	for _, v := range stored {
		for _, id := range v {
			ids[id]++
		}
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("message %s stored %d times", id, n)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.acks {
		if stored[a.room][a.seq] != a.id {
			t.Errorf("acked %+v not in the store (store has %q)", a, stored[a.room][a.seq])
		}
	}
	for _, s := range l.conflict {
		t.Error(s)
	}
}
