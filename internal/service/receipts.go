package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Read receipts. A member's read mark (Rooms.SetReadSeq, raised by
// MarkRead) is the only record: in a direct room its rise is announced to
// the room (event read); in a group the number of members who read each
// message is computed from the marks (Rooms.ReadCounts, a range query)
// when asked (Readers) and, batched, at most once a second per room across
// all nodes (event read_counts).

// ReadCountsWindow is the batching window of read_counts events: at most
// one event per room per window, across all nodes.
const ReadCountsWindow = time.Second

// ReadCountsMessages is how many of a group's latest messages a
// read_counts event covers (change events and holes are not counted).
const ReadCountsMessages = 50

// MaxReadersPage is the largest page of Readers.
const MaxReadersPage = 100

// maxCounting bounds the read_counts batches waiting on one node.
const maxCounting = 4096

// readCountsClaimTTL bounds the claim of a window whose claimer died
// before releasing it.
const readCountsClaimTTL = 5 * time.Second

func readCountsKey(roomID string) string { return "rc:{" + roomID + "}" }

// ReadEvent is the data of the event read.
type ReadEvent struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	Seq    int64  `json:"seq"`
}

// ReadCount is one message's entry of read_counts.
type ReadCount struct {
	Seq  int64 `json:"seq"`
	Read int64 `json:"read"`
}

// ReadCountsEvent is the data of the event read_counts.
type ReadCountsEvent struct {
	RoomID string      `json:"room_id"`
	Counts []ReadCount `json:"counts"`
}

// readRose announces that member's read mark rose to seq: to the room at
// once for a direct room, batched for a group.
func (s *Service) readRose(ctx context.Context, m *store.Member, seq int64) {
	if m.RoomType == store.RoomDirect {
		frame := protocol.EncodeEvent(protocol.EventRead, ReadEvent{RoomID: m.RoomID, UserID: m.UserID, Seq: seq})
		s.publish(ctx, bus.RoomChannel(m.RoomID),
			protocol.Envelope{Kind: 'e', RoomID: m.RoomID, Event: protocol.EventRead, Frame: frame})
		return
	}
	s.claimReadCounts(ctx, m.RoomID)
}

// claimReadCounts makes sure a read_counts event of the room follows the
// read mark just raised, at most one a window per room across all nodes.
// Every rise counts itself in the room's claim key in the KV; the one that
// creates it (sees 1, on whatever node) is the claimer: it waits for the
// window to end, reads the counts and publishes them, then takes the key
// away. Rises counted after it read the key (they may have been stored
// after the counts were read) make it claim the next window itself, so no
// rise goes unpublished and two events of a room are a window apart.
func (s *Service) claimReadCounts(ctx context.Context, roomID string) {
	// The rise is stored: claim with a budget of its own, not what is
	// left of the caller's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.lim.StoreTimeout)
	defer cancel()
	n, err := s.kv.Incr(ctx, readCountsKey(roomID), readCountsClaimTTL)
	if err != nil {
		s.log.Warn("read counts: claim", zap.String("room", roomID), zap.Error(err))
		return
	}
	if n != 1 {
		return
	}
	select {
	case s.counting <- struct{}{}:
	default:
		s.log.Warn("read counts: too many batches waiting; one is skipped", zap.String("room", roomID))
		_ = s.kv.Del(ctx, readCountsKey(roomID))
		return
	}
	started := s.goBG(func() {
		defer func() { <-s.counting }()
		s.publishReadCountsLater(roomID)
	})
	if !started {
		<-s.counting
	}
}

// readCountsRounds bounds the windows one claimer publishes in a row (it
// goes on while rises keep coming; after that the next rise claims).
const readCountsRounds = 60

// publishReadCountsLater is the claimer's part of claimReadCounts, until
// Close.
func (s *Service) publishReadCountsLater(roomID string) {
	key := readCountsKey(roomID)
	t := time.NewTimer(s.lim.ReadCountsWindow)
	defer t.Stop()
	for round := 0; round < readCountsRounds; round++ {
		select {
		case <-t.C:
		case <-s.bg.Done():
			return // closing: the claim expires (readCountsClaimTTL)
		}
		ctx, cancel := context.WithTimeout(s.bg, 2*s.lim.StoreTimeout)
		seen, err := s.kv.Get(ctx, key)
		if err == nil {
			if err = s.PublishReadCounts(ctx, roomID); err != nil {
				s.log.Warn("read counts", zap.String("room", roomID), zap.Error(err))
			}
		}
		// The key goes either way: a failed round is made up by the next.
		now, delErr := s.kv.GetDel(ctx, key)
		again := err != nil || delErr != nil || now != seen
		if again {
			var n int64
			if n, err = s.kv.Incr(ctx, key, readCountsClaimTTL); err != nil || n != 1 {
				again = false // another claimer has the next window (or Redis is down)
			}
		}
		cancel()
		if !again {
			return
		}
		t.Reset(s.lim.ReadCountsWindow)
	}
	_ = s.kv.Del(context.Background(), key)
}

// ReadCounts returns the read counts of the latest ReadCountsMessages
// messages of a room (not change events, not holes), ascending by seq.
func (s *Service) ReadCounts(ctx context.Context, roomID string) ([]ReadCount, error) {
	ms, err := s.st.MessagesBefore(ctx, roomID, 1<<63-1, 2*ReadCountsMessages)
	if err != nil {
		return nil, fmt.Errorf("read counts: %w", err)
	}
	msgs := make([]store.SeqFrom, 0, ReadCountsMessages)
	for i := range ms {
		if len(msgs) == ReadCountsMessages {
			break
		}
		if !ms[i].Hole && !ms[i].IsEvent() {
			msgs = append(msgs, store.SeqFrom{Seq: ms[i].Seq, From: ms[i].From})
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	counts, err := s.st.ReadCounts(ctx, roomID, msgs)
	if err != nil {
		return nil, fmt.Errorf("read counts: %w", err)
	}
	out := make([]ReadCount, len(msgs))
	for i, m := range msgs {
		out[len(msgs)-1-i] = ReadCount{Seq: m.Seq, Read: counts[m.Seq]}
	}
	return out, nil
}

// PublishReadCounts publishes the room's read counts (event read_counts)
// on its channel; nothing when the room has no messages.
func (s *Service) PublishReadCounts(ctx context.Context, roomID string) error {
	counts, err := s.ReadCounts(ctx, roomID)
	if err != nil || len(counts) == 0 {
		return err
	}
	frame := protocol.EncodeEvent(protocol.EventReadCounts, ReadCountsEvent{RoomID: roomID, Counts: counts})
	s.publish(ctx, bus.RoomChannel(roomID),
		protocol.Envelope{Kind: 'e', RoomID: roomID, Event: protocol.EventReadCounts, Frame: frame})
	return nil
}

// Reader is one member who read a message, with their read mark.
type Reader struct {
	User    protocol.User `json:"user"`
	ReadSeq int64         `json:"read_seq"`
}

// ReadersPage answers GET /v1/rooms/{id}/messages/{seq}/readers.
type ReadersPage struct {
	// Read is how many members (the sender left out) have read the
	// message: the count of every page.
	Read    int64    `json:"read"`
	Readers []Reader `json:"readers"`
	HasMore bool     `json:"has_more"`
}

// Readers answers how many members read the message at seq and who, a
// page at a time by user id (after: the last user id of the previous
// page). Members only; the sender is never counted.
func (s *Service) Readers(ctx context.Context, uid, roomID string, seq int64, after string, limit int) (*ReadersPage, error) {
	if seq < 1 {
		return nil, invalid("seq must be the seq of a message")
	}
	if after != "" {
		if err := protocol.ValidID("after", after); err != nil {
			return nil, err
		}
	}
	if err := s.CheckMember(ctx, uid, roomID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxReadersPage {
		limit = MaxReadersPage
	}
	m, err := s.st.MessageAt(ctx, roomID, seq)
	if errors.Is(err, store.ErrNotFound) || err == nil && (m.Hole || m.IsEvent()) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no message at this seq")
	}
	if err != nil {
		return nil, storeErr("readers", err)
	}
	counts, err := s.st.ReadCounts(ctx, roomID, []store.SeqFrom{{Seq: seq, From: m.From}})
	if err != nil {
		return nil, storeErr("readers", err)
	}
	ms, err := s.st.Readers(ctx, roomID, seq, m.From, after, limit+1)
	if err != nil {
		return nil, storeErr("readers", err)
	}
	p := &ReadersPage{Read: counts[seq], Readers: []Reader{}}
	if len(ms) > limit {
		ms, p.HasMore = ms[:limit], true
	}
	ids := make([]string, len(ms))
	for i := range ms {
		ids[i] = ms[i].UserID
	}
	users := map[string]*store.User{}
	if len(ids) > 0 {
		if users, err = s.usersByID(ctx, ids); err != nil {
			return nil, err
		}
	}
	for _, r := range ms {
		if u := users[r.UserID]; u != nil {
			p.Readers = append(p.Readers, Reader{User: protocol.PublicUser(u), ReadSeq: r.ReadSeq})
		}
	}
	return p, nil
}
