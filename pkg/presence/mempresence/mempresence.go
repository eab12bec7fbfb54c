// Package mempresence implements presence.Presence inside one process
// (standalone mode, tests): the same rules as redispresence, over maps
// under one mutex, with time from a clock.
package mempresence

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
)

// Presence is a presence.Presence in memory. The zero value is not usable;
// call New.
type Presence struct {
	now func() time.Time

	mu    sync.Mutex
	users map[string]*user               // users with a record
	nodes map[string]time.Time           // node -> its record's expiry
	byN   map[string]map[string]struct{} // node -> its users
	dead  map[string]struct{}            // claimed nodes whose users are being removed
}

type user struct {
	nodes    map[string]time.Time // node -> expiry
	reported bool                 // reported online
}

var _ presence.Presence = (*Presence)(nil)

// New returns an empty Presence on the wall clock.
func New() *Presence { return NewWithClock(time.Now) }

// NewWithClock returns an empty Presence on the clock now (tests).
func NewWithClock(now func() time.Time) *Presence {
	return &Presence{now: now, users: map[string]*user{}, nodes: map[string]time.Time{},
		byN: map[string]map[string]struct{}{}, dead: map[string]struct{}{}}
}

var errArg = errors.New("mempresence: empty node or user id")

func (p *Presence) setLocked(node, uid string, exp time.Time) bool {
	u := p.users[uid]
	if u == nil {
		u = &user{nodes: map[string]time.Time{}}
		p.users[uid] = u
	}
	u.nodes[node] = exp
	set := p.byN[node]
	if set == nil {
		set = map[string]struct{}{}
		p.byN[node] = set
	}
	set[uid] = struct{}{}
	if u.reported {
		return false
	}
	u.reported = true
	return true
}

// Connect implements presence.Presence.
func (p *Presence) Connect(ctx context.Context, node, uid string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if node == "" || uid == "" {
		return false, errArg
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.setLocked(node, uid, p.now().Add(ttl)), nil
}

// Renew implements presence.Presence.
func (p *Presence) Renew(ctx context.Context, node string, uids []string, ttl time.Duration) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if node == "" {
		return nil, errArg
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	exp := p.now().Add(ttl)
	p.nodes[node] = exp
	delete(p.dead, node)
	var online []string
	for _, uid := range uids {
		if uid != "" && p.setLocked(node, uid, exp) {
			online = append(online, uid)
		}
	}
	return online, nil
}

// removeLocked removes node's record of uid and reports whether the user
// thereby went offline.
func (p *Presence) removeLocked(node, uid string, now time.Time) bool {
	u := p.users[uid]
	if u == nil {
		return false
	}
	delete(u.nodes, node)
	for _, exp := range u.nodes {
		if exp.After(now) {
			return false
		}
	}
	was := u.reported
	u.reported = false
	if len(u.nodes) == 0 {
		delete(p.users, uid)
	}
	return was
}

// Disconnect implements presence.Presence.
func (p *Presence) Disconnect(ctx context.Context, node string, uids []string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var off []string
	for _, uid := range uids {
		if set := p.byN[node]; set != nil {
			delete(set, uid)
			if len(set) == 0 {
				delete(p.byN, node)
			}
		}
		if p.removeLocked(node, uid, now) {
			off = append(off, uid)
		}
	}
	return off, nil
}

// Online implements presence.Presence.
func (p *Presence) Online(ctx context.Context, uids []string) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	out := make([]bool, len(uids))
	for i, uid := range uids {
		if u := p.users[uid]; u != nil {
			for _, exp := range u.nodes {
				if exp.After(now) {
					out[i] = true
					break
				}
			}
		}
	}
	return out, nil
}

// ClaimLapsed implements presence.Presence.
func (p *Presence) ClaimLapsed(ctx context.Context, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for n, exp := range p.nodes {
		if !exp.After(now) {
			delete(p.nodes, n)
			p.dead[n] = struct{}{}
		}
	}
	var off []string
	popped := 0
	for n := range p.dead {
		set := p.byN[n]
		for uid := range set {
			if popped == limit {
				return off, nil
			}
			popped++
			delete(set, uid)
			if p.removeLocked(n, uid, now) {
				off = append(off, uid)
			}
		}
		delete(p.byN, n)
		delete(p.dead, n)
	}
	return off, nil
}
