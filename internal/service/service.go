// Package service is the application core shared by the REST API and the
// gateway: accounts, friends, groups and messages, with their rules. It
// speaks only to interfaces (store.Store, kv.KV, bus.Bus), so the same code
// runs distributed (MongoDB, Redis) and standalone (embedded store, memory).
//
// Every error a caller may show is a *protocol.Error; anything else is a bug
// or an outage and surfaces as internal or unavailable.
package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/emailcode"
	"github.com/im-websocket-go/im-websocket-go/internal/mail"
	"github.com/im-websocket-go/im-websocket-go/internal/media"
	"github.com/im-websocket-go/im-websocket-go/internal/ratelimit"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// Limits on lists and sizes; the zero value of Limits gives these.
type Limits struct {
	MaxGroupMembers int            // default 10000 (IM_MAX_GROUP_MEMBERS)
	MaxFriends      int            // default 5000
	LoginPerAccount ratelimit.Rule // failed logins per account; default 10 per 15 minutes
	LoginPerIP      ratelimit.Rule // failed logins per client address; default 100 per 15 minutes
	RegisterPerIP   ratelimit.Rule // default 20 an hour
	SendPerUser     ratelimit.Rule // messages per user; default 50 per second... see defaults
	StoreTimeout    time.Duration  // bound on one message insert; default 3s
	HoleTimeout     time.Duration  // a seq gap older than this is closed with a tombstone; default 5s
	PasswordPerUser ratelimit.Rule // wrong current passwords (change, delete); default 10 per 15 minutes
	// DeletedGrace is how long a deleted account keeps its account name
	// and email before housekeeping frees them; default 30 days.
	DeletedGrace time.Duration
	// RecallWindow is how long after sending a sender may recall a
	// message; default 2 minutes (a group's owner may at any time).
	RecallWindow time.Duration
	// ReadCountsWindow is the batching window of the read_counts events
	// of a group; default ReadCountsWindow (a second).
	ReadCountsWindow time.Duration
	// JoinRequestPerUser bounds the join requests one user makes;
	// default 30 an hour.
	JoinRequestPerUser ratelimit.Rule

	// ExternalTokenTTL is the longest lifetime of an accepted token of an
	// identity provider (IM_IDP_MAX_TOKEN_TTL; identities.go): user-level
	// revocations are remembered at least that long. Zero: no external
	// tokens are accepted, the access token lifetime is the bound.
	ExternalTokenTTL time.Duration
}

func (l *Limits) defaults() {
	if l.MaxGroupMembers <= 0 {
		l.MaxGroupMembers = 10000
	}
	if l.MaxFriends <= 0 {
		l.MaxFriends = 5000
	}
	if l.LoginPerAccount.N == 0 {
		l.LoginPerAccount = ratelimit.Rule{N: 10, Window: 15 * time.Minute}
	}
	if l.LoginPerIP.N == 0 {
		l.LoginPerIP = ratelimit.Rule{N: 100, Window: 15 * time.Minute}
	}
	if l.RegisterPerIP.N == 0 {
		l.RegisterPerIP = ratelimit.Rule{N: 20, Window: time.Hour}
	}
	if l.SendPerUser.N == 0 {
		l.SendPerUser = ratelimit.Rule{N: 100, Window: time.Second}
	}
	if l.StoreTimeout <= 0 {
		l.StoreTimeout = 3 * time.Second
	}
	if l.HoleTimeout <= 0 {
		l.HoleTimeout = 5 * time.Second
	}
	if l.PasswordPerUser.N == 0 {
		l.PasswordPerUser = ratelimit.Rule{N: 10, Window: 15 * time.Minute}
	}
	if l.DeletedGrace <= 0 {
		l.DeletedGrace = 30 * 24 * time.Hour
	}
	if l.RecallWindow <= 0 {
		l.RecallWindow = 2 * time.Minute
	}
	if l.ReadCountsWindow <= 0 {
		l.ReadCountsWindow = ReadCountsWindow
	}
	if l.JoinRequestPerUser.N == 0 {
		l.JoinRequestPerUser = ratelimit.Rule{N: 30, Window: time.Hour}
	}
}

// Deps are the service's collaborators.
type Deps struct {
	Store    store.Store
	KV       kv.KV
	Bus      bus.Bus // publishing only
	Sessions *auth.Sessions
	Codes    *emailcode.Codes
	Mail     mail.Sender // notices (an email changed); nil: none are sent
	// Blobs keeps uploaded files; nil: uploads answer unavailable.
	Blobs blob.Store
	// Presence holds who is online; nil: everyone reads offline.
	Presence presence.Presence
	// Stats receives the messages stored per minute and gives the admin
	// API the nodes' reports (admin.go); nil: stats are off.
	Stats stats.Stats
	// Media bounds uploads (size, types, image pixels, thumbnails).
	Media  media.Limits
	Log    *zap.Logger
	Limits Limits
	Now    func() time.Time

	// Webhooks calls the host app (before_send, after_send and the
	// account and social events through the outbox); nil: none.
	Webhooks *webhook.Hooks

	// UserLayout is where user events are published (IM_BUS_USER_CHANNELS;
	// "": bus.UserLayoutShards).
	UserLayout bus.UserLayout
}

// Service implements the product's rules.
type Service struct {
	st   store.Store
	kv   kv.KV
	bus  bus.Bus
	sess *auth.Sessions
	code *emailcode.Codes
	// resetCodes and emailCodes are the codes of a password reset and of
	// an email change: scoped apart from the registration codes.
	resetCodes, emailCodes *emailcode.Codes
	mail                   mail.Sender
	blobs                  blob.Store
	pres                   presence.Presence
	hooks                  *webhook.Hooks
	userLayout             bus.UserLayout
	media                  media.Limits
	log                    *zap.Logger
	lim                    Limits
	rl                     *ratelimit.Limiter
	now                    func() time.Time

	entropyMu sync.Mutex
	entropy   io.Reader

	// hashing bounds concurrent argon2id runs (19 MiB each), so a flood
	// of logins under the rate limits cannot exhaust memory.
	hashing chan struct{}
	// releasing bounds the background retries of seq releases.
	releasing chan struct{}
	// mailing bounds the mails sent in the background.
	mailing chan struct{}
	// inspecting bounds the uploads checked (and images decoded) at once.
	inspecting chan struct{}
	// counting bounds the read_counts batches waiting (receipts.go);
	// bg ends them (Close), bgWG waits for them.
	counting chan struct{}
	bgMu     sync.Mutex // orders bgWG.Add against Close
	bg       context.Context
	stopBG   context.CancelFunc
	bgWG     sync.WaitGroup

	// adminBusy holds the one admin broadcast running (admin.go).
	adminBusy chan struct{}
	// stats and msgsStored: the messages stored since the last flush to
	// stats (adminstats.go).
	stats      stats.Stats
	msgsStored atomic.Int64
}

// maxInspecting bounds the uploads inspected at once (see Upload).
const maxInspecting = 1

// maxReleasing bounds the seq releases retried in the background at once.
const maxReleasing = 256

// New builds a Service.
func New(d Deps) *Service {
	d.Limits.defaults()
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Service{
		st: d.Store, kv: d.KV, bus: d.Bus, sess: d.Sessions, code: d.Codes, mail: d.Mail, log: d.Log,
		blobs: d.Blobs, media: d.Media, pres: d.Presence,
		lim: d.Limits, rl: &ratelimit.Limiter{KV: d.KV, Prefix: "rl:"}, now: d.Now,
		entropy: ulid.Monotonic(rand.Reader, 0),
		hashing: make(chan struct{}, 2*runtime.GOMAXPROCS(0)), releasing: make(chan struct{}, maxReleasing),
		mailing: make(chan struct{}, maxMailing), inspecting: make(chan struct{}, maxInspecting),
		counting: make(chan struct{}, maxCounting),
	}
	s.bg, s.stopBG = context.WithCancel(context.Background())
	s.adminBusy = make(chan struct{}, 1)
	s.stats = d.Stats
	s.hooks = d.Webhooks
	s.userLayout = d.UserLayout
	if d.Codes != nil {
		s.resetCodes = d.Codes.Scoped("pr", "Reset your im-websocket-go password", "reset your password")
		s.emailCodes = d.Codes.Scoped("ce", "Confirm your new im-websocket-go email address", "confirm this address as your new email")
	}
	return s
}

// Close ends the service's background work (the read_counts batches
// waiting for their window: those are dropped) and waits for it. Call it
// before closing the store, the KV and the bus. The service is not used
// after.
func (s *Service) Close() {
	s.bgMu.Lock()
	s.stopBG()
	s.bgMu.Unlock()
	s.bgWG.Wait()
}

// goBG runs f in the background until Close; false (f not run) once
// closing.
func (s *Service) goBG(f func()) bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bg.Err() != nil {
		return false
	}
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		f()
	}()
	return true
}

// maxMailing bounds the mails sent in the background at once.
const maxMailing = 16

// Store returns the store (the gateway reads memberships through it).
func (s *Service) Store() store.Store { return s.st }

// Limits returns the limits in force.
func (s *Service) Limits() Limits { return s.lim }

func (s *Service) newID() string {
	s.entropyMu.Lock()
	defer s.entropyMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(s.now()), s.entropy).String()
}

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// withHashing runs f while holding one of the password-hashing slots; it
// answers unavailable when none frees up before ctx ends.
func (s *Service) withHashing(ctx context.Context, f func()) error {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return protocol.Unavailable(ctx.Err())
	}
	defer func() { <-s.hashing }()
	f()
	return nil
}

// storeErr turns a store error into a client-facing one.
func storeErr(op string, err error) error {
	var pe *protocol.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return err
	case errors.Is(err, store.ErrNotFound):
		return &protocol.Error{Code: protocol.CodeNotFound, Message: "not found", Cause: err}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return protocol.Unavailable(fmt.Errorf("%s: %w", op, err))
	default:
		return protocol.Internal(fmt.Errorf("%s: %w", op, err))
	}
}

// publish sends an envelope on a channel. The bus may drop; the store is the
// truth, so a failure is logged and not returned.
func (s *Service) publish(ctx context.Context, channel string, env protocol.Envelope) {
	if s.bus == nil {
		return
	}
	if err := s.bus.Publish(context.WithoutCancel(ctx), channel, env.Marshal()); err != nil {
		s.log.Warn("bus publish failed", zap.String("channel", channel), zap.Error(err))
	}
}

// event publishes an event frame to each user.
func (s *Service) event(ctx context.Context, name, roomID string, data any, userIDs ...string) {
	s.toUsers(ctx, protocol.Envelope{Kind: 'e', RoomID: roomID, Event: name, Frame: protocol.EncodeEvent(name, data)}, userIDs)
}

// toUsers publishes env, an 'e' envelope, to each user: on the user's
// shard channel (as a 'u' envelope naming the user) and, in the layouts
// that keep them, on the user's own channel (see bus.UserLayout).
func (s *Service) toUsers(ctx context.Context, env protocol.Envelope, userIDs []string) {
	for _, u := range userIDs {
		ue := env
		ue.Kind, ue.UserID = 'u', u
		s.publish(ctx, bus.UserShardChannel(bus.UserShard(u)), ue)
		if s.userLayout.PublishesPerUser() {
			s.publish(ctx, bus.UserChannel(u), env)
		}
	}
}

// normalizeEmail lower-cases and trims; it reports whether the form is
// acceptable (one @, a dot in the domain, no spaces, at most 254 bytes).
func normalizeEmail(e string) (string, bool) {
	e = strings.ToLower(strings.TrimSpace(e))
	if len(e) < 6 || len(e) > 254 || strings.ContainsAny(e, " \t\r\n<>()[]\\,;:\"") {
		return e, false
	}
	at := strings.IndexByte(e, '@')
	if at < 1 || at != strings.LastIndexByte(e, '@') {
		return e, false
	}
	dom := e[at+1:]
	if !strings.Contains(dom, ".") || strings.HasPrefix(dom, ".") || strings.HasSuffix(dom, ".") || strings.Contains(dom, "..") {
		return e, false
	}
	return e, true
}

func validAccount(a string) bool {
	if len(a) < 3 || len(a) > 32 {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
