package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus/membus"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/rediskv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
)

// events records the envelopes of one channel, with their arrival times.
type events struct {
	mu   sync.Mutex
	got  []protocol.Envelope
	at   []time.Time
	more chan struct{}
}

func (e *events) HandleMessage(_ string, payload []byte) {
	env, err := protocol.ParseEnvelope(payload)
	if err != nil || env.Kind != 'e' {
		return
	}
	env.Frame = append([]byte(nil), env.Frame...)
	e.mu.Lock()
	e.got, e.at = append(e.got, env), append(e.at, time.Now())
	e.mu.Unlock()
	select {
	case e.more <- struct{}{}:
	default:
	}
}

func (e *events) HandleResubscribed() {}

// readCounts of the recorded read_counts events, in order.
func (e *events) readCounts(t *testing.T) ([]service.ReadCountsEvent, []time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []service.ReadCountsEvent
	var at []time.Time
	for i, env := range e.got {
		if env.Event != protocol.EventReadCounts {
			continue
		}
		var f struct{ Data service.ReadCountsEvent }
		if err := json.Unmarshal(env.Frame, &f); err != nil {
			t.Fatal(err)
		}
		out, at = append(out, f.Data), append(at, e.at[i])
	}
	return out, at
}

// markRead marks room read as a client does: again, backing off, while
// the answer is unavailable (a store under load), a bounded number of
// times.
func markRead(t *testing.T, svc *service.Service, uid, room string, seq int64) {
	backoff := 50 * time.Millisecond
	for try := 0; try < 20; try++ {
		err := svc.MarkRead(context.Background(), uid, room, seq)
		if err == nil {
			return
		}
		if protocol.AsError(err).Code != protocol.CodeUnavailable {
			t.Error(err)
			return
		}
		time.Sleep(backoff) // a client's back-off, not a wait for a result
		backoff = min(2*backoff, time.Second)
	}
	t.Errorf("MarkRead %s: unavailable 20 times", uid)
}

// TestReadCountsExactUnderConcurrency: 50 members of a group, on two
// services (two nodes) sharing the store and Redis, mark the same messages
// read at once, in two waves; read_counts events come at most once a
// second for the room, and the last one is exact.
func TestReadCountsExactUnderConcurrency(t *testing.T) {
	const members = 50
	ctx := context.Background()
	uri, db := testenv.MongoDB(t)
	st, err := mongo.Open(ctx, uri, db, mongo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(ctx) })
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	t.Cleanup(func() { _ = rc.Close() })
	kvs := rediskv.New(rc)
	hub := membus.NewHub()
	rec := &events{more: make(chan struct{}, 1)}
	sub := membus.New(rec, membus.Options{Hub: hub})
	t.Cleanup(func() { _ = sub.Close() })
	pub := membus.New(nil, membus.Options{Hub: hub})
	t.Cleanup(func() { _ = pub.Close() })
	var nodes [2]*service.Service
	for i := range nodes {
		nodes[i] = service.New(service.Deps{Store: st, KV: kvs, Bus: pub})
		t.Cleanup(nodes[i].Close)
	}

	room := "g" + testenv.UniqueName("r")[2:]
	if err := sub.Subscribe(ctx, bus.RoomChannel(room)); err != nil {
		t.Fatal(err)
	}
	users := make([]string, members+1) // users[0] sends
	for i := range users {
		users[i] = fmt.Sprintf("%s-u%02d", room, i)
		u := &store.User{ID: users[i], Account: fmt.Sprintf("rc%s%02d", room[len(room)-8:], i), Email: users[i] + "@example.com"}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := st.AddMember(ctx, &store.Member{RoomID: room, UserID: users[i], RoomType: store.RoomGroup}); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []*store.Message
	for i := 0; i < 3; i++ {
		m, _, err := nodes[0].Send(ctx, service.SendInput{UserID: users[0], RoomID: room, Body: "m", ClientMsgID: fmt.Sprintf("m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	// Wave one: every member reads the first message; wave two: the odd
	// ones read up to the last.
	wave := func(seq func(i int) int64) {
		var wg sync.WaitGroup
		for i := 1; i <= members; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s := seq(i); s > 0 {
					markRead(t, nodes[i%2], users[i], room, s)
				}
			}()
		}
		wg.Wait()
	}
	wave(func(int) int64 { return msgs[0].Seq })
	wave(func(i int) int64 {
		if i%2 == 1 {
			return msgs[2].Seq
		}
		return 0
	})
	want := map[int64]int64{msgs[0].Seq: members, msgs[1].Seq: members / 2, msgs[2].Seq: members / 2}
	deadline := time.After(15 * time.Second)
	for {
		evs, at := rec.readCounts(t)
		// At most one a second, counted over the whole run: the arrival
		// times carry the machine's jitter (one late event makes the next
		// gap short), the count over a span does not drift with it.
		if n := len(at); n > 1 {
			if span := at[n-1].Sub(at[0]); n > int(span/time.Second)+2 {
				t.Fatalf("%d read_counts events in %v, want at most one a second", n, span)
			}
		}
		if n := len(evs); n > 0 {
			got := map[int64]int64{}
			for _, c := range evs[n-1].Counts {
				got[c.Seq] = c.Read
			}
			if fmt.Sprint(got) == fmt.Sprint(want) {
				break
			}
		}
		select {
		case <-rec.more:
		case <-deadline:
			t.Fatalf("read_counts events %+v, want the last %v", evs, want)
		}
	}
	p, err := nodes[1].Readers(ctx, users[1], room, msgs[2].Seq, "", 10)
	if err != nil || p.Read != members/2 || len(p.Readers) != 10 || !p.HasMore || p.Readers[0].User.ID != users[1] {
		t.Fatalf("Readers: %+v, %v", p, err)
	}
}
