package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// MaxPage is the largest history page.
const MaxPage = 100

// maxSeqTries bounds the retries of one send when seqs collide (after Redis
// lost its counters, or under heavy contention).
const maxSeqTries = 50

// SendInput is one message to send.
type SendInput struct {
	UserID, RoomID, Body, ClientMsgID string
	// MemberChecked skips the membership read when the caller (the gateway,
	// with its event-invalidated cache) already knows the user is a member.
	MemberChecked bool
	// Rich messages: the kind ("" is text), the message replied to, the
	// users mentioned, the uploaded file (image, file), the application's
	// payload (custom). See rich.go.
	Kind     string
	ReplyTo  int64
	Mentions []string
	FileID   string
	Data     json.RawMessage
}

// CheckMember answers forbidden unless uid is a member of roomID. A direct
// room closed by a block (either way) answers exactly as for a member who
// is not one (the block must not show).
func (s *Service) CheckMember(ctx context.Context, uid, roomID string) error {
	_, err := s.member(ctx, uid, roomID)
	return err
}

// member returns uid's membership of roomID, with the errors of
// CheckMember.
func (s *Service) member(ctx context.Context, uid, roomID string) (*store.Member, error) {
	if protocol.ValidID("room_id", roomID) != nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such room")
	}
	m, err := s.st.Member(ctx, roomID, uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotMember()
	}
	if err != nil {
		return nil, storeErr("membership", err)
	}
	if m.RoomType == store.RoomDirect {
		closed, err := s.directClosed(ctx, uid, roomID)
		if err != nil {
			return nil, err
		}
		if closed {
			return nil, errNotMember()
		}
	}
	return m, nil
}

func errNotMember() error {
	return protocol.Errorf(protocol.CodeForbidden, "you are not a member of this room")
}

// AllowSend counts one message for uid against the per-user send rate.
func (s *Service) AllowSend(ctx context.Context, uid string) error {
	ok, retry, err := s.rl.Hit(ctx, "send:"+uid+":"+fmt.Sprint(s.now().Unix()), s.lim.SendPerUser)
	if err != nil {
		return protocol.Unavailable(err)
	}
	if !ok {
		return protocol.RateLimited(retry)
	}
	return nil
}

func seqKey(roomID string) string { return "seq:{" + roomID + "}" }

// Send stores a message and then publishes it. It returns the stored
// message; dup is true when the same client_msg_id had already been stored,
// in which case the first copy is returned and nothing new is stored or
// published. An error means nothing was acknowledged.
func (s *Service) Send(ctx context.Context, in SendInput) (m *store.Message, dup bool, err error) {
	if err := protocol.ValidClientMsgID(in.ClientMsgID); err != nil {
		return nil, false, err
	}
	body := in.Body
	if err := (protocol.Rich{Kind: in.Kind, Body: &body, FileID: in.FileID, Data: in.Data,
		ReplyTo: optSeq(in.ReplyTo), Mentions: in.Mentions}).Validate(); err != nil {
		return nil, false, err
	}
	if !in.MemberChecked {
		if err := s.CheckMember(ctx, in.UserID, in.RoomID); err != nil {
			return nil, false, err
		}
	}
	if err := s.checkMuted(ctx, in.UserID, in.RoomID); err != nil {
		return nil, false, err
	}
	if err := s.beforeSend(ctx, &in); err != nil {
		return nil, false, err
	}
	m = &store.Message{RoomID: in.RoomID, From: in.UserID, Body: in.Body, ClientMsgID: in.ClientMsgID,
		Kind: in.Kind, ReplyTo: in.ReplyTo}
	if m.Kind == store.KindText {
		m.Kind = "" // stored as before kinds: read as text
	}
	r, err := s.prepareRich(ctx, in, m)
	if err != nil {
		return nil, false, err
	}
	return s.commit(ctx, in.ClientMsgID, m, r)
}

// commit stores m (from, room, body, kind and the rest set) under a fresh
// seq and publishes it; r, when not nil, is told the stored message before
// the publication (attach its file, flag its mentions) and gives the quote
// of a reply. dup is true when the sender's client_msg_id was stored
// already: the first copy is returned, nothing new is stored.
func (s *Service) commit(ctx context.Context, clientMsgID string, m *store.Message, r *richSend) (_ *store.Message, dup bool, err error) {
	in := SendInput{UserID: m.From, RoomID: m.RoomID, ClientMsgID: clientMsgID}
	// No lookup of client_msg_id first: the insert's unique index on
	// (room, sender, client_msg_id) catches a retry, and only then is the first
	// copy read. A seq taken by an insert that then failed is released at
	// once (releaseSeq), so it never stalls the room.
	ctx, cancel := context.WithTimeout(ctx, s.lim.StoreTimeout)
	defer cancel()
	m.ID = s.newID()
	for try := 0; ; try++ {
		if try == maxSeqTries {
			return nil, false, protocol.Unavailable(fmt.Errorf("send: no free seq after %d tries", try))
		}
		seq, err := s.kv.Incr(ctx, seqKey(m.RoomID), 0)
		if err != nil {
			return nil, false, protocol.Unavailable(fmt.Errorf("send: seq: %w", err))
		}
		m.Seq = seq
		m.CreatedAt = s.nowUTC()
		err = s.st.InsertMessage(ctx, m)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrDuplicate) {
			// The insert failed, or its answer was lost: it may still
			// have committed. Either the seq is released or it holds
			// this very message, which is then acknowledged.
			if landed := s.releaseSeq(ctx, m); landed != nil {
				m = landed
				break
			}
			return nil, false, storeErr("send", err)
		}
		// Either this client_msg_id was stored meanwhile (a retry), or
		// the seq was taken: the counter is behind the store (Redis
		// restarted). Raise it past the stored maximum and retry.
		first, err := s.byClientID(ctx, in)
		if first != nil && first.IsEvent() != m.IsEvent() {
			// The client_msg_id of a change reused by a send, or the
			// other way round: not a retry of this frame.
			s.releaseSeq(ctx, m)
			return nil, false, protocol.Errorf(protocol.CodeConflict, "client_msg_id was already used for another message")
		}
		if first != nil || err != nil {
			// A retry: its seq holds nothing (unless the counter was
			// behind as well, which releaseSeq finds out).
			s.releaseSeq(ctx, m)
			if first != nil {
				// A retry of a message whose first insert committed but
				// whose ack was lost: it may never have been published.
				// Publish it (again): gateways drop seqs they delivered.
				s.publishMessage(ctx, first, nil)
				// Its after_send may not have been written either (that
				// failed the first answer): write it again; the outbox
				// and the receiver de-duplicate by the message id.
				if err := s.afterSend(ctx, first); err != nil {
					return nil, false, err
				}
			}
			return first, first != nil, err
		}
		last, err := s.st.LastMessage(ctx, m.RoomID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, false, storeErr("send", err)
		}
		if last != nil {
			if _, err := s.kv.SetMax(ctx, seqKey(m.RoomID), last.Seq); err != nil {
				return nil, false, protocol.Unavailable(fmt.Errorf("send: seq: %w", err))
			}
		}
	}
	// The after_send event is written before the send is acknowledged;
	// when it cannot be, the send fails (unavailable) though the message
	// is stored and published: the client's retry takes the duplicate
	// path above, which writes it again.
	hookErr := s.afterSend(ctx, m)
	var quote *store.Message
	if r != nil {
		s.stored(ctx, m, r)
		quote = r.quote
	}
	s.publishMessage(ctx, m, quote)
	s.msgsStored.Add(1) // the messages per minute (adminstats.go)
	if hookErr != nil {
		return nil, false, hookErr
	}
	return m, false, nil
}

// releaseSeq closes m.Seq, which this send allocated but whose insert did
// not (knowingly) succeed, with a tombstone, and tells the gateways to skip
// it, so no reader waits for it. The unique (room, seq) index decides: if
// the tombstone is refused, the seq holds a message, and when that is m
// itself (an insert that committed though its answer was lost) it is
// returned, to be acknowledged. If the store cannot take the tombstone now,
// it is retried in the background (releaseLater); only a process that dies
// meanwhile leaves the hole to the hole timeout.
func (s *Service) releaseSeq(ctx context.Context, m *store.Message) (landed *store.Message) {
	landed, err := s.tryRelease(context.WithoutCancel(ctx), m)
	if err != nil {
		s.releaseLater(m)
	}
	return landed
}

// tryRelease makes one attempt at releasing m.Seq; err means the store did
// not answer, and nothing is known.
func (s *Service) tryRelease(ctx context.Context, m *store.Message) (landed *store.Message, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.lim.StoreTimeout)
	defer cancel()
	err = s.st.InsertMessage(ctx, s.tombstone(m.RoomID, m.Seq))
	switch {
	case err == nil:
		s.publish(ctx, bus.RoomChannel(m.RoomID), protocol.Envelope{Kind: 'h', RoomID: m.RoomID, Seq: m.Seq})
		return nil, nil
	case errors.Is(err, store.ErrDuplicate):
		// MessageAt reads the primary (MongoDB) whatever the read
		// preference: what holds the seq must not be a stale answer.
		at, err := s.st.MessageAt(ctx, m.RoomID, m.Seq)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !at.Hole && at.From == m.From && at.ClientMsgID == m.ClientMsgID {
			return at, nil
		}
		return nil, nil
	default:
		return nil, err
	}
}

// releaseLater retries a release in the background, a few times with
// backoff, within the hole timeout; at most maxReleasing at once (past
// that, the hole timeout closes the seq). A message found at the seq after
// all is published: it is stored, and its sender, told the send failed,
// will retry and be answered with it.
func (s *Service) releaseLater(m *store.Message) {
	select {
	case s.releasing <- struct{}{}:
	default:
		s.log.Warn("could not release a seq; the hole timeout will close it",
			zap.String("room", m.RoomID), zap.Int64("seq", m.Seq))
		return
	}
	cp := *m
	go func() {
		defer func() { <-s.releasing }()
		ctx := context.Background()
		end := s.now().Add(s.lim.HoleTimeout)
		for wait := 100 * time.Millisecond; s.now().Add(wait).Before(end); wait *= 2 {
			time.Sleep(wait)
			landed, err := s.tryRelease(ctx, &cp)
			if err == nil {
				if landed != nil {
					s.publishMessage(ctx, landed, nil)
				}
				return
			}
		}
		s.log.Warn("could not release a seq; the hole timeout will close it",
			zap.String("room", cp.RoomID), zap.Int64("seq", cp.Seq))
	}()
}

// tombstone is the hole document that closes seq in roomID. Its
// client_msg_id is unique per seq, so two writers of one tombstone collide.
func (s *Service) tombstone(roomID string, seq int64) *store.Message {
	return &store.Message{ID: s.newID(), RoomID: roomID, Seq: seq, Hole: true,
		ClientMsgID: "hole:" + roomID + ":" + strconv.FormatInt(seq, 10), CreatedAt: s.nowUTC()}
}

// byClientID returns the message in.UserID stored in in.RoomID under
// in.ClientMsgID, or nil. The rule is room-scoped: a retry is always in the
// same room, and the same client_msg_id in another room is another message.
// The store reads it from the primary (MongoDB), whatever the read
// preference.
func (s *Service) byClientID(ctx context.Context, in SendInput) (*store.Message, error) {
	m, err := s.st.MessageByClientID(ctx, in.RoomID, in.UserID, in.ClientMsgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr("send", err)
	}
	return m, nil
}

// publishMessage publishes m to its room; quote is the message it replies
// to (nil: read it when m is a reply).
func (s *Service) publishMessage(ctx context.Context, m *store.Message, quote *store.Message) {
	out := protocol.FromStore(m)
	if m.ReplyTo > 0 {
		if quote == nil {
			quote, _ = s.st.MessageAt(ctx, m.RoomID, m.ReplyTo)
		}
		if quote != nil {
			out.Reply = protocol.QuoteOf(quote)
		}
	}
	frame := protocol.EncodeMessage(out)
	s.publish(ctx, bus.RoomChannel(m.RoomID), protocol.Envelope{Kind: 'm', RoomID: m.RoomID, Seq: m.Seq,
		Published: s.now().UnixMicro(), Frame: frame})
}

// Page is a page of messages, ascending by seq.
type Page struct {
	Messages []store.Message
	HasMore  bool
	// Pending is set when the page stopped before a seq gap young enough
	// that its message may still be being stored: ask again shortly.
	Pending bool
	// Last is the highest seq the page covers (holes included): a client
	// has everything up to it.
	Last int64
	// Set by Decorate: the messages replied to, by seq, and the reaction
	// counts of the messages, by seq.
	Quotes    map[int64]*store.Message
	Reactions map[int64][]store.ReactionCount
}

// After returns messages with seq > after, ascending, stopping before a
// gap that may still fill. check: verify membership first.
//
// A seq is allocated before its message is stored, so a missing seq
// followed by a recent message may be an insert in flight: the page stops
// there (Pending). A gap older than HoleTimeout is closed with a tombstone
// (a Hole document at that seq): the unique (room, seq) index makes that
// race-free, because either the tombstone or the late message wins, never
// both, and a sender whose insert lost retries with a fresh seq. So a seq
// that clients have been told to skip can never later hold a message.
func (s *Service) After(ctx context.Context, uid, roomID string, after int64, limit int, check bool) (Page, error) {
	if check {
		if err := s.CheckMember(ctx, uid, roomID); err != nil {
			return Page{}, err
		}
	}
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	for attempt := 0; ; attempt++ {
		ms, err := s.st.MessagesAfter(ctx, roomID, after, limit+1)
		if err != nil {
			return Page{}, storeErr("history", err)
		}
		p := Page{}
		if len(ms) > limit {
			ms, p.HasMore = ms[:limit], true
		}
		next := after + 1
		horizon := s.now().Add(-s.lim.HoleTimeout)
		refill := false
		for i, m := range ms {
			if m.Seq != next {
				if m.CreatedAt.After(horizon) || attempt >= 3 {
					ms, p.HasMore, p.Pending = ms[:i], true, true
					break
				}
				if err := s.closeHoles(ctx, roomID, next, m.Seq); err != nil {
					if errors.Is(err, store.ErrDuplicate) {
						refill = true // a late message landed: read again
						break
					}
					return Page{}, storeErr("history", err)
				}
			}
			next = m.Seq + 1
		}
		if refill {
			continue
		}
		p.Messages = ms[:0:0]
		for _, m := range ms {
			if !m.Hole {
				p.Messages = append(p.Messages, m)
			}
		}
		p.Last = after
		if len(ms) > 0 {
			p.Last = ms[len(ms)-1].Seq
		}
		return p, nil
	}
}

// maxHoles bounds the tombstones written for one gap.
const maxHoles = 1000

// closeHoles writes tombstones for seqs [from, to). ErrDuplicate means a
// real message holds one of them after all.
func (s *Service) closeHoles(ctx context.Context, roomID string, from, to int64) error {
	if to-from > maxHoles {
		from = to - maxHoles
	}
	for seq := from; seq < to; seq++ {
		if err := s.st.InsertMessage(ctx, s.tombstone(roomID, seq)); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				if m, _ := s.st.MessagesAfter(ctx, roomID, seq-1, 1); len(m) == 1 && m[0].Seq == seq && m[0].Hole {
					continue // another node closed it first
				}
			}
			return err
		}
		s.log.Info("closed a seq hole", zap.String("room", roomID), zap.Int64("seq", seq))
	}
	return nil
}

// AfterSettled is After, waiting (bounded by the hole timeout) for a young
// gap to fill or to age into a permanent hole, so that sync never skips a
// message that was being stored and never loops on a hole.
func (s *Service) AfterSettled(ctx context.Context, uid, roomID string, after int64, limit int, check bool) (Page, error) {
	deadline := s.now().Add(s.lim.HoleTimeout + time.Second)
	for {
		p, err := s.After(ctx, uid, roomID, after, limit, check)
		if err != nil || !p.Pending || len(p.Messages) > 0 || s.now().After(deadline) {
			return p, err
		}
		check = false
		select {
		case <-ctx.Done():
			return p, protocol.Unavailable(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// maxHoleRounds bounds the reads of one history page that skips holes.
const maxHoleRounds = 5

// Before returns messages with seq < before (0: the newest), ascending.
func (s *Service) Before(ctx context.Context, uid, roomID string, before int64, limit int) (Page, error) {
	if err := s.CheckMember(ctx, uid, roomID); err != nil {
		return Page{}, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	// Tombstones are not shown, so they must not take a page's places:
	// read on past them (a few rounds at most; holes are rare).
	p := Page{}
	for round := 0; round < maxHoleRounds && len(p.Messages) <= limit; round++ {
		want := limit + 1 - len(p.Messages)
		ms, err := s.st.MessagesBefore(ctx, roomID, before, want)
		if err != nil {
			return Page{}, storeErr("history", err)
		}
		for _, m := range ms {
			if !m.Hole {
				p.Messages = append(p.Messages, m)
			}
		}
		if len(ms) < want {
			break // the start of the room
		}
		before = ms[len(ms)-1].Seq
		if round == maxHoleRounds-1 {
			p.HasMore = true
		}
	}
	if len(p.Messages) > limit {
		p.Messages, p.HasMore = p.Messages[:limit], true
	}
	sort.Slice(p.Messages, func(i, j int) bool { return p.Messages[i].Seq < p.Messages[j].Seq })
	return p, nil
}

// MarkRead records that uid read roomID up to seq (capped at the last seq).
// When the mark rises, the rise is announced (readRose): the membership
// read by the check is the mark before, so a seq at or below it writes
// and announces nothing. Of racing rises from several devices each
// announces its own seq; clients keep the highest.
func (s *Service) MarkRead(ctx context.Context, uid, roomID string, seq int64) error {
	if seq < 0 {
		return invalid("seq must not be negative")
	}
	mem, err := s.member(ctx, uid, roomID)
	if err != nil {
		return err
	}
	if seq <= mem.ReadSeq {
		return nil
	}
	last, err := s.st.LastMessage(ctx, roomID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return storeErr("read", err)
	}
	if seq > last.Seq {
		seq = last.Seq
	}
	if seq <= mem.ReadSeq {
		return nil
	}
	if err := s.st.SetReadSeq(ctx, roomID, uid, seq); err != nil {
		return storeErr("read", err)
	}
	s.readRose(ctx, mem, seq)
	return nil
}

// Conversation is one entry of the conversation list.
type Conversation struct {
	RoomID  string         `json:"room_id"`
	Type    string         `json:"type"`
	Peer    *protocol.User `json:"peer,omitempty"`
	Group   *GroupView     `json:"group,omitempty"`
	LastSeq int64          `json:"last_seq"`
	ReadSeq int64          `json:"read_seq"`
	Unread  int64          `json:"unread"`
	// Mentioned is set while a message that mentioned the caller (by id
	// or @all) is past their read mark.
	Mentioned   bool              `json:"mentioned,omitempty"`
	LastMessage *protocol.Message `json:"last_message,omitempty"`
}

// Conversations lists the caller's rooms with unread counts, newest first.
func (s *Service) Conversations(ctx context.Context, uid string) ([]Conversation, error) {
	ms, err := s.st.MembershipsOf(ctx, uid)
	if err != nil {
		return nil, storeErr("conversations", err)
	}
	out := make([]Conversation, 0, len(ms))
	for _, m := range ms {
		r, err := s.st.RoomByID(ctx, m.RoomID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, storeErr("conversations", err)
		}
		c := Conversation{RoomID: r.ID, Type: r.Type.String(), ReadSeq: m.ReadSeq, Mentioned: m.MentionSeq > m.ReadSeq}
		if r.Type == store.RoomDirect {
			var peer string
			for _, id := range splitPair(r.PairKey) {
				if id != uid {
					peer = id
				}
			}
			if u, err := s.st.UserByID(ctx, peer); err == nil {
				pu := protocol.PublicUser(u)
				c.Peer = &pu
			}
		} else {
			n, err := s.st.CountMembers(ctx, r.ID)
			if err != nil {
				return nil, storeErr("conversations", err)
			}
			g := groupView(r, n)
			c.Group = &g
		}
		last, err := s.lastShown(ctx, r.ID)
		if err != nil {
			return nil, storeErr("conversations", err)
		}
		if last != nil {
			lm := protocol.FromStore(last)
			c.LastMessage, c.LastSeq = &lm, last.Seq
			if last.Seq > m.ReadSeq {
				if c.Unread, err = s.st.CountAfter(ctx, r.ID, m.ReadSeq, uid); err != nil {
					return nil, storeErr("conversations", err)
				}
			}
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return convTime(out[i]).After(convTime(out[j])) })
	return out, nil
}

// lastShown is the newest real message of a room (nil when none).
func (s *Service) lastShown(ctx context.Context, roomID string) (*store.Message, error) {
	last, err := s.st.LastMessage(ctx, roomID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil || !last.Hole {
		return last, err
	}
	ms, err := s.st.MessagesBefore(ctx, roomID, last.Seq, 20)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if !ms[i].Hole {
			return &ms[i], nil
		}
	}
	return nil, nil
}

func convTime(c Conversation) time.Time {
	if c.LastMessage != nil {
		return c.LastMessage.CreatedAt
	}
	if c.Group != nil {
		return c.Group.CreatedAt
	}
	return time.Time{}
}

func splitPair(key string) []string {
	for i := 0; i < len(key); i++ {
		if key[i] == ':' {
			return []string{key[:i], key[i+1:]}
		}
	}
	return []string{key}
}

// RoomsOf returns the ids of the rooms uid belongs to, less the direct
// rooms a block closes.
func (s *Service) RoomsOf(ctx context.Context, uid string) ([]string, error) {
	ms, err := s.st.MembershipsOf(ctx, uid)
	if err != nil {
		return nil, storeErr("rooms", err)
	}
	var closed map[string]bool
	for _, m := range ms {
		if m.RoomType == store.RoomDirect {
			if closed, err = s.closedRooms(ctx, uid); err != nil {
				return nil, err
			}
			break
		}
	}
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		if !closed[m.RoomID] {
			ids = append(ids, m.RoomID)
		}
	}
	return ids, nil
}

// SeqHeads returns the highest seq allocated so far in each room (0 when
// unknown): a gateway's starting point for ordering a room's live messages.
func (s *Service) SeqHeads(ctx context.Context, roomIDs []string) ([]int64, error) {
	keys := make([]string, len(roomIDs))
	for i, id := range roomIDs {
		keys[i] = seqKey(id)
	}
	vals, err := s.kv.GetMany(ctx, keys...)
	if err != nil {
		return nil, protocol.Unavailable(fmt.Errorf("seq heads: %w", err))
	}
	out := make([]int64, len(roomIDs))
	for i, v := range vals {
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, protocol.Internal(fmt.Errorf("seq head of %s: %q", roomIDs[i], v))
		}
		out[i] = n
	}
	return out, nil
}
