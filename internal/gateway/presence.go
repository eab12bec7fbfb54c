package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
)

// presenceQueue bounds the presence transitions waiting to be announced
// (each costs a few store reads and publishes); past it they are dropped
// and counted: a friend then misses one event, which GET /v1/presence
// corrects.
const presenceQueue = 4096

// claimBatch is the most users of lapsed nodes one claim takes.
const claimBatch = 1000

// transition is a presence change to announce.
type transition struct {
	uid    string
	online bool
	at     time.Time
}

// presenceManager keeps this node's presence records: the hub tells it
// when a user's first local connection opens and their last one closes
// (under the hub's lock: map updates only); one goroutine does the Redis
// work in batches: new users at once, every local user each interval, the
// users gone for longer than the grace, and the claim of other nodes that
// stopped renewing. Transitions the records report go to a bounded queue,
// announced by a second goroutine (store reads and publishes), so a slow
// store never delays a renewal.
type presenceManager struct {
	p        presence.Presence
	node     string
	interval time.Duration
	ttl      time.Duration
	grace    time.Duration
	log      *zap.Logger
	announce func(ctx context.Context, t transition) error
	m        *metrics

	mu      sync.Mutex
	local   map[string]struct{}  // users with a local connection
	leaving map[string]time.Time // users whose last connection closed -> end of their grace
	fresh   map[string]struct{}  // users whose record is to be written at once
	kick    chan struct{}
	queue   chan transition
}

func newPresenceManager(p presence.Presence, nodeID string, interval, grace time.Duration, log *zap.Logger, m *metrics,
	announce func(ctx context.Context, t transition) error) *presenceManager {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &presenceManager{p: p, node: presence.NodeName(nodeID, hex.EncodeToString(b[:])),
		interval: interval, ttl: 2 * interval, grace: grace, log: log, m: m, announce: announce,
		local: map[string]struct{}{}, leaving: map[string]time.Time{}, fresh: map[string]struct{}{},
		kick: make(chan struct{}, 1), queue: make(chan transition, presenceQueue)}
}

// connected is called (under hub.mu) when uid's first local connection
// opened. A return within the grace changes nothing outside.
func (pm *presenceManager) connected(uid string) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if _, ok := pm.leaving[uid]; ok {
		delete(pm.leaving, uid)
		pm.local[uid] = struct{}{}
		return
	}
	pm.local[uid] = struct{}{}
	pm.fresh[uid] = struct{}{}
	select {
	case pm.kick <- struct{}{}:
	default:
	}
}

// disconnected is called (under hub.mu) when uid's last local connection
// closed: the record stays (renewed) through the grace.
func (pm *presenceManager) disconnected(uid string) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if _, ok := pm.local[uid]; !ok {
		return
	}
	delete(pm.local, uid)
	pm.leaving[uid] = time.Now().Add(pm.grace)
}

// run does the Redis work until ctx ends.
func (pm *presenceManager) run(ctx context.Context) {
	tick := max(10*time.Millisecond, min(pm.interval, pm.grace)/2)
	t := time.NewTicker(tick)
	defer t.Stop()
	var nextRenew, nextClaim time.Time
	var all []string
	// healthy is since when this node's renewals succeed. It claims other
	// nodes only a while (wait) after that: after a Redis outage every
	// node's records have lapsed, and each must get the chance to renew its
	// own before another takes them for dead (which would announce all
	// their users offline, then online again). At start the wait is an
	// interval; after an outage it is a record's lifetime plus a call's
	// bound, because a node whose call hung through the outage retries
	// only when that call times out.
	healthy, wait := time.Now(), pm.interval
	failing := false
	var lastOK time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-pm.kick:
		case <-t.C:
		}
		now := time.Now()
		pm.mu.Lock()
		fresh := make([]string, 0, len(pm.fresh))
		for uid := range pm.fresh {
			if _, ok := pm.local[uid]; ok {
				fresh = append(fresh, uid)
			}
		}
		clear(pm.fresh)
		var due []string
		for uid, end := range pm.leaving {
			if !end.After(now) {
				due = append(due, uid)
				delete(pm.leaving, uid)
			}
		}
		renew := !now.Before(nextRenew)
		if renew {
			all = all[:0]
			for uid := range pm.local {
				all = append(all, uid)
			}
			for uid := range pm.leaving {
				all = append(all, uid)
			}
		}
		pm.mu.Unlock()

		if renew {
			on, err := pm.call(ctx, func(ctx context.Context) ([]string, error) { return pm.p.Renew(ctx, pm.node, all, pm.ttl) })
			if err != nil {
				pm.log.Warn("presence renewal failed; retrying", zap.Int("users", len(all)), zap.Error(err))
				nextRenew = now.Add(tick)
				failing = true
			} else {
				// A failed renewal, or one that came later than the
				// records live (a call that stalled without failing), is
				// an outage this node lived through.
				if failing || (!lastOK.IsZero() && now.Sub(lastOK) > pm.ttl) {
					failing, healthy, wait = false, now, pm.ttl+pm.callTimeout()
				}
				lastOK = now
				nextRenew = now.Add(pm.interval)
				pm.enqueue(on, true, now)
			}
		} else if len(fresh) > 0 {
			on, err := pm.call(ctx, func(ctx context.Context) ([]string, error) { return pm.p.Renew(ctx, pm.node, fresh, pm.ttl) })
			if err != nil {
				pm.log.Warn("presence connect failed; the next renewal retries", zap.Error(err))
			}
			pm.enqueue(on, true, now)
		}
		if len(due) > 0 {
			off, err := pm.call(ctx, func(ctx context.Context) ([]string, error) { return pm.p.Disconnect(ctx, pm.node, due) })
			if err != nil {
				pm.log.Warn("presence disconnect failed; retrying", zap.Int("users", len(due)), zap.Error(err))
				pm.mu.Lock()
				for _, uid := range due {
					if _, back := pm.local[uid]; !back {
						pm.leaving[uid] = now.Add(tick)
					}
				}
				pm.mu.Unlock()
			}
			pm.enqueue(off, false, now)
		}
		if !failing && now.Sub(healthy) >= wait && !now.Before(nextClaim) {
			nextClaim = now.Add(pm.interval)
			off, err := pm.call(ctx, func(ctx context.Context) ([]string, error) { return pm.p.ClaimLapsed(ctx, claimBatch) })
			if err != nil {
				pm.log.Warn("presence claim of lapsed nodes failed", zap.Error(err))
			}
			pm.enqueue(off, false, now)
		}
	}
}

// callTimeout bounds one presence operation: the interval, at least 1s.
func (pm *presenceManager) callTimeout() time.Duration { return max(pm.interval, time.Second) }

// call runs one presence operation bounded by callTimeout.
func (pm *presenceManager) call(ctx context.Context, f func(context.Context) ([]string, error)) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, pm.callTimeout())
	defer cancel()
	return f(cctx)
}

func (pm *presenceManager) enqueue(uids []string, online bool, at time.Time) {
	for _, uid := range uids {
		select {
		case pm.queue <- transition{uid: uid, online: online, at: at}:
		default:
			pm.m.presenceDropped.Inc()
		}
	}
}

// announcer announces the queued transitions until ctx ends.
func (pm *presenceManager) announcer(ctx context.Context, timeout time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-pm.queue:
			actx, cancel := context.WithTimeout(ctx, timeout)
			err := pm.announce(actx, t)
			cancel()
			state := "offline"
			if t.online {
				state = "online"
			}
			pm.m.presenceEvents.WithLabelValues(state).Inc()
			if err != nil {
				pm.log.Warn("presence announcement failed", zap.String("user", t.uid), zap.Error(err))
			}
		}
	}
}

// typingLimiter lets through at most one "on" relay per user and room
// per interval on this node, and an "off" only when the last relayed state
// was "on": at most two relays per interval, however the frames come. Its
// map is bounded: past max entries, those older than keep are swept, and
// if it is still full the relay is dropped.
type typingLimiter struct {
	interval, keep time.Duration
	max            int

	mu sync.Mutex
	m  map[typingKey]typingState
}

type typingKey struct{ uid, room string }

type typingState struct {
	lastOn time.Time // last "on" relayed
	at     time.Time // last relay
	on     bool      // last relayed state
}

func newTypingLimiter(interval, keep time.Duration, max int) *typingLimiter {
	return &typingLimiter{interval: interval, keep: keep, max: max, m: map[typingKey]typingState{}}
}

func (l *typingLimiter) allow(uid, room string, on bool, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := typingKey{uid, room}
	st, ok := l.m[k]
	if ok && now.Sub(st.at) >= l.keep {
		ok, st = false, typingState{} // long expired on the receivers' side
	}
	switch {
	case on && ok && now.Sub(st.lastOn) < l.interval:
		return false
	case !on && !st.on:
		return false
	}
	if !ok && len(l.m) >= l.max {
		for key, s := range l.m {
			if now.Sub(s.at) >= l.keep {
				delete(l.m, key)
			}
		}
		if len(l.m) >= l.max {
			return false
		}
	}
	st.at, st.on = now, on
	if on {
		st.lastOn = now
	}
	l.m[k] = st
	return true
}
