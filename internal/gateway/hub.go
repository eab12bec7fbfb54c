package gateway

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// hub is the node's routing table: which local users are online, which
// rooms they are in, and which bus channels the node therefore needs. The
// subscriptions themselves are reconciled by one goroutine, in batches, so
// a burst of connects costs a few SUBSCRIBE commands rather than one each.
type hub struct {
	log *zap.Logger
	bus bus.Bus

	mu    sync.RWMutex
	users map[string]*user // online users
	rooms map[string]*room // rooms with at least one online member here
	// chans holds the state of every channel wanted or subscribed (one
	// entry for both: a node keeps one per online user and room).
	chans map[string]chanState
	nsubs int // channels subscribed

	// shards: users' events come on the user shard channels (each wanted
	// while a local user hashes to it: shardUsers counts them), else on
	// each online user's own channel.
	shards     bool
	shardUsers [bus.UserShards]int32
	kick       chan struct{}

	fill func(r *room) // gap filler (the gateway's store read)
	// gaveUp counts gaps the node could not fill from the store (nil: not
	// counted).
	gaveUp func()
	// churn, when set, is told (under mu) of every batch of channels
	// subscribed or unsubscribed ("subscribe", "unsubscribe"), with how
	// many channels are subscribed after it.
	churn func(op string, n, subscribed int)
	// first and last are told (under mu) when a user's first local
	// connection opened and their last one closed (nil: nobody).
	first, last func(uid string)
}

// user is an online user. Its fields are kept small: a node holds one per
// connected user, and most users have one or two connections.
type user struct {
	id    string
	conns []*client            // usually one or two; bounded by MaxConnsPerUser
	rooms map[string]time.Time // room -> when membership was last confirmed; nil until the first
}

// room is a room with local members and its delivery order state.
type room struct {
	id      string
	members map[string]*user

	dead atomic.Bool // no local members any more

	ordMu   sync.Mutex
	last    int64            // highest seq delivered here; -1: not known yet
	pending map[int64][]byte // out-of-order frames waiting for a gap
	timer   *time.Timer
	fails   int // gap fills failed in a row
}

func newHub(b bus.Bus, log *zap.Logger) *hub {
	return &hub{log: log, bus: b, users: map[string]*user{}, rooms: map[string]*room{},
		chans: map[string]chanState{}, kick: make(chan struct{}, 1)}
}

// chanState says whether a channel is wanted (a local user or room needs
// it) and whether it is subscribed (reconcile makes the two agree).
type chanState uint8

const (
	chWant chanState = 1 << iota
	chSub
)

// setChan sets or clears bit of channel ch; h.mu is held.
func (h *hub) setChan(ch string, bit chanState, on bool) {
	st, had := h.chans[ch]
	was := st&chSub != 0
	if on {
		st |= bit
	} else {
		st &^= bit
	}
	if now := st&chSub != 0; now != was {
		if now {
			h.nsubs++
		} else {
			h.nsubs--
		}
	}
	switch {
	case st == 0 && had:
		delete(h.chans, ch)
	case st != 0:
		h.chans[ch] = st
	}
}

func (h *hub) wake() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// run reconciles subscriptions until ctx ends.
func (h *hub) run(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		case <-t.C: // retries failed (un)subscriptions
		}
		h.reconcile(ctx)
	}
}

func (h *hub) reconcile(ctx context.Context) {
	h.mu.RLock()
	var add, del []string
	for ch, st := range h.chans {
		switch st {
		case chWant:
			add = append(add, ch)
		case chSub:
			del = append(del, ch)
		}
	}
	h.mu.RUnlock()
	h.apply(ctx, add, "subscribe", h.bus.Subscribe, func(ch string) { h.setChan(ch, chSub, true) })
	h.apply(ctx, del, "unsubscribe", h.bus.Unsubscribe, func(ch string) { h.setChan(ch, chSub, false) })
}

// apply runs op on chans in batches, recording each success with done
// (under mu); it stops at the first failure, which the next reconcile
// retries.
func (h *hub) apply(ctx context.Context, chans []string, name string,
	op func(context.Context, ...string) error, done func(string)) {
	const batch = 512
	for len(chans) > 0 {
		n := min(batch, len(chans))
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := op(octx, chans[:n]...)
		cancel()
		if err != nil {
			h.log.Warn(name+" failed; will retry", zap.Int("channels", n), zap.Error(err))
			return
		}
		h.mu.Lock()
		for _, ch := range chans[:n] {
			done(ch)
		}
		if h.churn != nil {
			h.churn(name, n, h.nsubs)
		}
		h.mu.Unlock()
		chans = chans[n:]
	}
}

// join registers a connection of uid, in rooms. It returns false when the
// user already has max connections here.
func (h *hub) join(c *client, rooms []string, heads []int64, max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[c.uid]
	if u == nil {
		u = &user{id: c.uid}
		h.users[c.uid] = u
		h.wantUser(c.uid, true)
	}
	if max > 0 && len(u.conns) >= max {
		if len(u.conns) == 0 {
			h.dropUserLocked(u)
		}
		return false
	}
	if u.conns == nil {
		u.conns = make([]*client, 0, 1) // the usual case: one connection, one small allocation
	}
	u.conns = append(u.conns, c)
	if len(u.conns) == 1 && h.first != nil {
		h.first(c.uid)
	}
	for i, id := range rooms {
		if r := h.addRoomLocked(u, id); r != nil && i < len(heads) {
			r.last = heads[i]
		}
	}
	h.wake()
	return true
}

// addRoomLocked adds room id to u; it returns the room when it is new on
// this node (its delivery baseline is then the caller's to set).
func (h *hub) addRoomLocked(u *user, id string) (created *room) {
	_, ok := u.rooms[id]
	if u.rooms == nil {
		u.rooms = map[string]time.Time{}
	}
	u.rooms[id] = time.Now()
	if ok {
		return nil
	}
	r := h.rooms[id]
	if r == nil {
		r = &room{id: id, members: map[string]*user{}, last: -1}
		h.rooms[id] = r
		h.setChan(bus.RoomChannel(id), chWant, true)
		created = r
	}
	r.members[u.id] = u
	return created
}

func (h *hub) removeRoomLocked(u *user, id string) {
	if _, ok := u.rooms[id]; !ok {
		return
	}
	delete(u.rooms, id)
	if r := h.rooms[id]; r != nil {
		delete(r.members, u.id)
		if len(r.members) == 0 {
			r.stop()
			delete(h.rooms, id)
			h.setChan(bus.RoomChannel(id), chWant, false)
		}
	}
}

func (h *hub) dropUserLocked(u *user) {
	for id := range u.rooms {
		h.removeRoomLocked(u, id)
	}
	delete(h.users, u.id)
	h.wantUser(u.id, false)
	if h.last != nil {
		h.last(u.id)
	}
}

// wantUser records that uid came online (on) or went offline here, and
// so whether its events' channel is wanted; h.mu is held.
func (h *hub) wantUser(uid string, on bool) {
	if !h.shards {
		h.setChan(bus.UserChannel(uid), chWant, on)
		return
	}
	n := bus.UserShard(uid)
	if on {
		h.shardUsers[n]++
		if h.shardUsers[n] == 1 {
			h.setChan(bus.UserShardChannel(n), chWant, true)
		}
		return
	}
	h.shardUsers[n]--
	if h.shardUsers[n] == 0 {
		h.setChan(bus.UserShardChannel(n), chWant, false)
	}
}

// online reports whether uid has a connection here.
func (h *hub) online(uid string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.users[uid] != nil
}

// leave unregisters a connection.
func (h *hub) leave(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[c.uid]
	if u == nil {
		return
	}
	i := slices.Index(u.conns, c)
	if i < 0 {
		return
	}
	u.conns = slices.Delete(u.conns, i, i+1)
	if len(u.conns) == 0 {
		h.dropUserLocked(u)
		h.wake()
	}
}

// setRoom adds or removes a room of an online user (events).
func (h *hub) setRoom(uid, roomID string, in bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[uid]
	if u == nil || roomID == "" {
		return
	}
	if in {
		h.addRoomLocked(u, roomID)
	} else {
		h.removeRoomLocked(u, roomID)
	}
	h.wake()
}

// isMember reports whether the node knows uid to be in roomID, confirmed
// within ttl (events keep it current; the ttl bounds the harm of a lost one).
func (h *hub) isMember(uid, roomID string, ttl time.Duration) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	u := h.users[uid]
	if u == nil {
		return false
	}
	at, ok := u.rooms[roomID]
	return ok && time.Since(at) < ttl
}

// resetRooms replaces an online user's rooms with the store's list.
func (h *hub) resetRooms(uid string, rooms []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[uid]
	if u == nil {
		return
	}
	keep := make(map[string]bool, len(rooms))
	for _, id := range rooms {
		keep[id] = true
		h.addRoomLocked(u, id)
	}
	for id := range u.rooms {
		if !keep[id] {
			h.removeRoomLocked(u, id)
		}
	}
	h.wake()
}

// clientsOf returns the local connections of uid.
func (h *hub) clientsOf(uid string) []*client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	u := h.users[uid]
	if u == nil {
		return nil
	}
	return slices.Clone(u.conns)
}

// toUser writes frame to every connection of uid.
func (h *hub) toUser(uid string, frame []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if u := h.users[uid]; u != nil {
		for _, c := range u.conns {
			c.send(frame)
		}
	}
}

// toRoom writes frame to every local connection of every member of r. An
// empty frame is a skipped seq: nothing is written.
func (h *hub) toRoom(r *room, frame []byte) int {
	if len(frame) == 0 {
		return 0
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, u := range r.members {
		for _, c := range u.conns {
			c.send(frame)
			n++
		}
	}
	return n
}

// toRoomExcept writes frame to the local connections of r's members but
// uid.
func (h *hub) toRoomExcept(r *room, uid string, frame []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for id, u := range r.members {
		if id == uid {
			continue
		}
		for _, c := range u.conns {
			c.send(frame)
		}
	}
}

func (h *hub) room(id string) *room {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rooms[id]
}

// userIDs lists the online users.
func (h *hub) userIDs() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]string, 0, len(h.users))
	for id := range h.users {
		ids = append(ids, id)
	}
	return ids
}

// settled reports whether every wanted channel is subscribed and nothing
// unwanted is.
func (h *hub) settled() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, st := range h.chans {
		if st != chWant|chSub {
			return false
		}
	}
	return true
}

// resubscribeAll forgets what is subscribed so reconcile subscribes every
// wanted channel again (after the bus lost its connection), and resets the
// rooms' delivery order: what was missed is recovered by clients' sync.
func (h *hub) resubscribeAll() {
	h.mu.Lock()
	for ch := range h.chans {
		h.setChan(ch, chSub, false)
	}
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	h.forgetOrder(rooms)
}

// forgetOrder resets the rooms' delivery order (what was missed is
// recovered by clients' sync) and wakes reconcile to subscribe again.
func (h *hub) forgetOrder(rooms []*room) {
	for _, r := range rooms {
		r.ordMu.Lock()
		r.last, r.pending = -1, nil
		r.ordMu.Unlock()
	}
	h.wake()
}

// resubscribeChannels is resubscribeAll for some channels (one bus
// connection of several was lost): it forgets them as subscribed, resets
// the delivery order of their rooms and returns the rooms with local
// members and the online users among them.
func (h *hub) resubscribeChannels(channels []string) (rooms []*room, users []string) {
	h.mu.Lock()
	for _, c := range channels {
		h.setChan(c, chSub, false)
		switch kind, id := bus.Parse(c); kind {
		case 'r':
			if r := h.rooms[id]; r != nil {
				rooms = append(rooms, r)
			}
		case 'u':
			if h.users[id] != nil {
				users = append(users, id)
			}
		case 's':
			n, err := strconv.Atoi(id)
			if err != nil {
				continue
			}
			for uid := range h.users {
				if bus.UserShard(uid) == n {
					users = append(users, uid)
				}
			}
		}
	}
	h.mu.Unlock()
	h.forgetOrder(rooms)
	return rooms, users
}

// stop marks the room dead; a pending gap fill then does nothing. It is
// called under hub.mu, so it must not take ordMu (deliver takes ordMu, then
// hub.mu).
func (r *room) stop() { r.dead.Store(true) }

// maxPending bounds the out-of-order frames kept per room; past it the
// gap is filled from the store at once.
const maxPending = 256

// gapWait is how long an out-of-order message waits for the missing ones
// before they are read from the store.
const gapWait = 150 * time.Millisecond

// deliver puts a published message in seq order for this node: in order, it
// goes out at once; ahead of a gap, it waits (bounded) for the gap to fill
// from the bus or the store; behind, it is a duplicate and dropped. A nil
// frame is a seq known to hold no message (an 'h' envelope): it is passed
// over in order, so nothing waits for it.
func (h *hub) deliver(r *room, seq int64, frame []byte) (sent int) {
	r.ordMu.Lock()
	defer r.ordMu.Unlock()
	switch {
	case r.last < 0 || seq == r.last+1:
		r.last = seq
		sent += h.toRoom(r, frame)
		sent += h.flushLocked(r)
		if len(r.pending) == 0 && r.timer != nil {
			r.timer.Stop()
			r.timer = nil
		}
	case seq <= r.last:
		// already delivered
	default:
		if r.pending == nil {
			r.pending = map[int64][]byte{}
		}
		r.pending[seq] = append([]byte{}, frame...) // empty, not nil, for a skip
		if r.timer == nil && h.fill != nil {
			wait := gapWait
			if len(r.pending) >= maxPending {
				wait = 0
			}
			r.timer = time.AfterFunc(wait, func() { h.fill(r) })
		}
	}
	return sent
}

// filled delivers messages read from the store for a gap. frames are the
// store's answer for seqs after some earlier r.last: contiguous except for
// holes old enough to be permanent (service.After skips only those), so
// every frame beyond the current r.last can go out in order. Then what was
// pending beyond them follows. more asks for the next page at once;
// otherwise a gap still open is read again after gapWait.
func (h *hub) filled(r *room, frames []seqFrame, last int64, more bool) {
	r.ordMu.Lock()
	defer r.ordMu.Unlock()
	r.timer = nil
	r.fails = 0
	if r.last < 0 {
		return // reset since the read began (bus reconnect)
	}
	for _, f := range frames {
		if f.seq > r.last {
			r.last = f.seq
			delete(r.pending, f.seq)
			h.toRoom(r, f.frame)
		}
	}
	r.last = max(r.last, last) // past closed holes at the end of the page
	h.flushLocked(r)
	lo := int64(1<<63 - 1)
	for s := range r.pending {
		if s <= r.last {
			delete(r.pending, s)
		} else {
			lo = min(lo, s)
		}
	}
	if len(r.pending) > 0 && lo-r.last > maxGap {
		// Far behind (the node lost track): do not replay history to
		// connected clients; they recover older messages with sync.
		r.last = lo - 1
		h.flushLocked(r)
	}
	if len(r.pending) > 0 && h.fill != nil {
		wait := gapWait
		if more {
			wait = 0
		}
		r.timer = time.AfterFunc(wait, func() { h.fill(r) })
	}
}

// maxFillFails is how many gap fills of a room may fail in a row (the store
// unreachable or overloaded), backing off, before the node gives up on the
// gap: it delivers what waited beyond it and tells the room's local members
// to sync the room (a `resync` event naming it), so that nobody silently
// misses a message.
const maxFillFails = 3

// fillFailed is the gap filler's answer when the store could not be read.
func (h *hub) fillFailed(r *room) {
	r.ordMu.Lock()
	defer r.ordMu.Unlock()
	r.timer = nil
	if r.last < 0 || len(r.pending) == 0 {
		return
	}
	if r.fails++; r.fails < maxFillFails {
		r.timer = time.AfterFunc(gapWait<<r.fails, func() { h.fill(r) })
		return
	}
	r.fails = 0
	lo := int64(1<<63 - 1)
	for s := range r.pending {
		lo = min(lo, s)
	}
	r.last = lo - 1
	h.flushLocked(r)
	h.toRoom(r, protocol.EncodeEvent(EventResync, map[string]string{"room_id": r.id, "reason": "gap"}))
	if h.gaveUp != nil {
		h.gaveUp()
	}
	if len(r.pending) > 0 && h.fill != nil {
		r.timer = time.AfterFunc(gapWait, func() { h.fill(r) })
	}
}

// EventResync is the event that tells a client to sync: every room (the
// node's bus connection was interrupted), or the one its room_id names (a
// gap the node could not fill).
const EventResync = "resync"

// maxGap is the largest gap a node fills from the store by itself.
const maxGap = 1000

// flushLocked delivers the pending frames that continue r.last, in order,
// and returns how many recipients they went to. r.ordMu is held.
func (h *hub) flushLocked(r *room) (sent int) {
	for {
		f, ok := r.pending[r.last+1]
		if !ok {
			return sent
		}
		delete(r.pending, r.last+1)
		r.last++
		sent += h.toRoom(r, f)
	}
}

type seqFrame struct {
	seq   int64
	frame []byte
}
