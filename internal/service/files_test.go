package service_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob/fsblob"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/memkv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/memstore"
)

// An upload never sent is swept, bytes and record, once a day old; a sent
// one stays.
func TestSweepRemovesOrphanUploads(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	kvs := memkv.New()
	t.Cleanup(func() { kvs.Close() })
	blobs, err := fsblob.New(t.TempDir(), fsblob.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	svc := service.New(service.Deps{Store: st, KV: kvs, Blobs: blobs, Now: clk.Now})
	const room, uid = "R1", "U1"
	if err := st.AddMember(ctx, &store.Member{RoomID: room, UserID: uid, RoomType: store.RoomGroup}); err != nil {
		t.Fatal(err)
	}
	var pic bytes.Buffer
	_ = png.Encode(&pic, image.NewGray(image.Rect(0, 0, 40, 30)))
	orphan, err := svc.Upload(ctx, uid, room, "a.png", bytes.NewReader(pic.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	sent, err := svc.Upload(ctx, uid, room, "b.png", bytes.NewReader(pic.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Send(ctx, service.SendInput{UserID: uid, RoomID: room, ClientMsgID: "m1", Kind: store.KindImage, FileID: sent.ID}); err != nil {
		t.Fatal(err)
	}
	clk.Add(service.OrphanAge - time.Minute)
	if s, err := svc.Sweep(ctx); err != nil || s.Orphans != 0 {
		t.Fatalf("sweep before a day: %+v %v", s, err)
	}
	clk.Add(2 * time.Minute)
	if s, err := svc.Sweep(ctx); err != nil || s.Orphans != 1 {
		t.Fatalf("sweep after a day: %+v %v", s, err)
	}
	if _, err := st.FileByID(ctx, orphan.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the orphan's record: %v", err)
	}
	for _, k := range []string{orphan.Key, orphan.ThumbKey} {
		if _, err := blobs.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("the orphan's blob %s: %v", k, err)
		}
	}
	rc, f, err := svc.OpenFile(ctx, uid, sent.ID, false)
	if err != nil {
		t.Fatalf("the sent file: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, pic.Bytes()) || f.Width != 40 || f.Height != 30 {
		t.Fatalf("the sent file: %d bytes, %dx%d", len(b), f.Width, f.Height)
	}
}

// failingInserts refuses message inserts while on; with land set the
// first refused insert is stored all the same (an answer lost after the
// commit). noRemove makes RemoveReaction fail too, and lateRemove makes
// it answer an error and keep the removal for later (a store that timed
// out carries the write out afterwards: runLate); addLands makes one
// AddReaction store the reaction and answer an error.
// (Atomics: the service retries seq releases in the background.)
type failingInserts struct {
	store.Store
	on, land, noRemove, lateRemove, addLands atomic.Bool

	mu   sync.Mutex
	late []func()
}

func (f *failingInserts) runLate() {
	f.mu.Lock()
	late := f.late
	f.late = nil
	f.mu.Unlock()
	for _, do := range late {
		do()
	}
}

func (f *failingInserts) AddReaction(ctx context.Context, r *store.Reaction) error {
	if f.addLands.CompareAndSwap(true, false) {
		if err := f.Store.AddReaction(ctx, r); err != nil {
			return err
		}
		return store.ErrUnavailable
	}
	return f.Store.AddReaction(ctx, r)
}

func (f *failingInserts) InsertMessage(ctx context.Context, m *store.Message) error {
	if !f.on.Load() {
		return f.Store.InsertMessage(ctx, m)
	}
	if f.land.CompareAndSwap(true, false) {
		if err := f.Store.InsertMessage(ctx, m); err != nil {
			return err
		}
	}
	return store.ErrUnavailable
}

func (f *failingInserts) RemoveReaction(ctx context.Context, roomID string, seq int64, userID, emoji string) error {
	if f.lateRemove.Load() {
		f.mu.Lock()
		f.late = append(f.late, func() { _ = f.Store.RemoveReaction(context.Background(), roomID, seq, userID, emoji) })
		f.mu.Unlock()
		return store.ErrUnavailable
	}
	if f.noRemove.Load() {
		return store.ErrUnavailable
	}
	return f.Store.RemoveReaction(ctx, roomID, seq, userID, emoji)
}

// A reaction whose event could not be stored stays applied, and the
// client's retry with the same client_msg_id succeeds (and counts once);
// so it does when the event's insert did land though it answered an
// error, or when the reaction's own write did. A removal the store carries
// out late (a timed-out write) never undoes the acknowledged reaction.
func TestReactionRetryAfterTheEventFailed(t *testing.T) {
	for _, tc := range []struct {
		name                               string
		inserts, land, noRemove, late, add bool
	}{
		{name: "event refused", inserts: true},
		{name: "event refused, removals fail", inserts: true, noRemove: true},
		{name: "event refused, removals land late", inserts: true, late: true},
		{name: "event landed", inserts: true, land: true},
		{name: "reaction landed", add: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := &failingInserts{Store: memstore.New()}
			kvs := memkv.New()
			t.Cleanup(func() { kvs.Close() })
			svc := service.New(service.Deps{Store: st, KV: kvs, Limits: service.Limits{StoreTimeout: time.Second}})
			const room, uid = "R1", "U1"
			if err := st.AddMember(ctx, &store.Member{RoomID: room, UserID: uid, RoomType: store.RoomGroup}); err != nil {
				t.Fatal(err)
			}
			m, _, err := svc.Send(ctx, service.SendInput{UserID: uid, RoomID: room, Body: "hi", ClientMsgID: "m1"})
			if err != nil {
				t.Fatal(err)
			}
			in := service.ChangeInput{UserID: uid, RoomID: room, ClientMsgID: "x1", Seq: m.Seq, Emoji: "🎉"}
			st.on.Store(tc.inserts)
			st.addLands.Store(tc.add)
			st.land.Store(tc.land)
			st.noRemove.Store(tc.noRemove)
			st.lateRemove.Store(tc.late)
			if _, _, err := svc.React(ctx, in, true); err == nil {
				t.Fatal("react with the store refusing inserts succeeded")
			}
			st.on.Store(false)
			st.noRemove.Store(false)
			ev, _, err := svc.React(ctx, in, true)
			if err != nil {
				t.Fatalf("the retry: %v", err)
			}
			if ev.Kind != store.KindReact || ev.Target != m.Seq || ev.ClientMsgID != "x1" {
				t.Fatalf("the retry's event: %+v", ev)
			}
			st.runLate()
			counts, err := st.ReactionCounts(ctx, room, []int64{m.Seq}, uid)
			if err != nil || len(counts[m.Seq]) != 1 || counts[m.Seq][0].Count != 1 {
				t.Fatalf("counts after the retry: %+v %v", counts, err)
			}
			// The same emoji again under another client_msg_id is still refused.
			in.ClientMsgID = "x2"
			if _, _, err := svc.React(ctx, in, true); err == nil || !strings.Contains(err.Error(), "already") {
				t.Fatalf("a second reaction with the same emoji: %v", err)
			}
		})
	}
}
