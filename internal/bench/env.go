package bench

import (
	"time"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/im-websocket-go/im-websocket-go/internal/embeddb"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/internal/redisproc"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/memstore"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/postgres"
)

// EmbeddedOptions configure an Embedded environment.
type EmbeddedOptions struct {
	Nodes    int    // gateway nodes; default 1
	Spawn    bool   // run the nodes as child processes (clean RSS/CPU figures)
	RedisURL string // empty: start redis-server on a free port
	// RedisCluster starts a Redis Cluster (3 primaries, 3 replicas)
	// instead of one redis-server; RedisURL must be empty.
	RedisCluster bool
	LogLevel     string
	Tweak        func(*gateway.Options) // in-process nodes only
	// MemStore makes in-process nodes share a memstore.Store instead of
	// FerretDB, to measure the gateways and the bus without the database:
	// the embedded FerretDB answers every query but a lookup by _id with a
	// full collection scan, which makes it, not the gateway, the limit of
	// any store-bound figure.
	MemStore bool
	// PostgresURL makes the nodes use a PostgreSQL store there
	// (pkg/store/postgres) instead of FerretDB.
	PostgresURL string
	// AutoPipeline turns the nodes' Redis automatic pipelining on.
	AutoPipeline bool
	// WriteDelay is the nodes' IM_WS_WRITE_DELAY.
	WriteDelay time.Duration
	// MaxFrameAge is the nodes' IM_STORE_MAX_FRAME_AGE.
	MaxFrameAge time.Duration
}

// Embedded is everything a run needs on this machine: Redis, the embedded
// MongoDB-compatible store (FerretDB, in this process), a signing key and
// the gateway nodes.
type Embedded struct {
	RedisURL string
	MongoURI string
	MongoDB  string
	Signer   *auth.Signer
	Issuer   string
	Audience string
	Nodes    []*Node
	Redis    *redisproc.Server // nil when given a URL
	// Cluster is the Redis Cluster of EmbeddedOptions.RedisCluster.
	Cluster *redisproc.Cluster
	Shared  store.Store // with MemStore or PostgresURL: the nodes' store

	dir   string
	db    *embeddb.Server
	stops []func()
}

// StartEmbedded brings the environment up; Close takes it down.
func StartEmbedded(ctx context.Context, o EmbeddedOptions) (_ *Embedded, err error) {
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	e := &Embedded{Issuer: "imbench", Audience: "imbench", MongoDB: "imbench", RedisURL: o.RedisURL}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "imbench-"); err != nil {
		return nil, err
	}
	switch {
	case o.RedisCluster && e.RedisURL != "":
		return nil, errors.New("a Redis URL and a Redis Cluster: choose one")
	case o.RedisCluster:
		if e.Cluster, err = redisproc.StartCluster(ctx, redisproc.Options{MaxClients: 10000}); err != nil {
			return nil, err
		}
		e.stops = append(e.stops, e.Cluster.Stop)
	case e.RedisURL == "":
		if err = e.startRedis(); err != nil {
			return nil, err
		}
	}
	if o.MemStore {
		if o.Spawn {
			return nil, errors.New("the memory store needs in-process gateways (no -spawn)")
		}
		e.Shared = memstore.New()
	} else if o.PostgresURL != "" {
		// Shared by in-process gateways, and the seeder; spawned
		// nodes open the database themselves, like cmd/gateway.
		pg, err := postgres.Open(ctx, o.PostgresURL, postgres.Options{MaxConns: 32})
		if err != nil {
			return nil, err
		}
		e.Shared = pg
		e.stops = append(e.stops, func() { _ = pg.Close(context.Background()) })
	} else {
		if e.db, err = embeddb.Start(filepath.Join(e.dir, "db"), "127.0.0.1:0", nil); err != nil {
			return nil, err
		}
		e.MongoURI = e.db.URI
	}
	if e.Signer, err = auth.GenerateSigner(); err != nil {
		return nil, err
	}
	pub := filepath.Join(e.dir, "jwt-public.pem")
	f, err := os.Create(pub)
	if err != nil {
		return nil, err
	}
	err = auth.WritePublicKeyPEM(f, e.Signer.PublicKey())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for i := range o.Nodes {
		nc := NodeConfig{MongoURI: e.MongoURI, MongoDB: e.MongoDB, RedisURL: e.RedisURL, PubKeyFile: pub,
			Issuer: e.Issuer, Audience: e.Audience, NodeID: fmt.Sprintf("gw-%d", i+1), LogLevel: o.LogLevel,
			AutoPipeline: o.AutoPipeline, WriteDelay: o.WriteDelay, MaxFrameAge: o.MaxFrameAge}
		if o.Spawn {
			nc.PostgresURL = o.PostgresURL
		}
		if e.Cluster != nil {
			// The URL gives only user, password and TLS: none here.
			nc.RedisURL, nc.RedisClusterAddrs = "redis://"+e.Cluster.Addrs()[0], e.Cluster.Addrs()
		}
		var n *Node
		if o.Spawn {
			n, err = SpawnNode(ctx, nc)
		} else {
			nc.Keys, nc.PubKeyFile, nc.Tweak = e.Signer.Keys(), "", o.Tweak
			if e.Shared != nil {
				nc.Store = e.Shared
			}
			n, err = StartNode(ctx, nc)
		}
		if err != nil {
			return nil, fmt.Errorf("gateway node %d: %w", i+1, err)
		}
		e.Nodes = append(e.Nodes, n)
	}
	return e, nil
}

func (e *Embedded) startRedis() error {
	r, err := redisproc.Start(redisproc.Options{MaxClients: 10000})
	if err != nil {
		return err
	}
	e.Redis = r
	e.RedisURL = r.URL()
	e.stops = append(e.stops, r.Stop)
	return nil
}

// Close stops the nodes, FerretDB and Redis and removes the temp folder.
func (e *Embedded) Close() {
	for _, n := range e.Nodes {
		_ = n.Close()
	}
	e.Nodes = nil
	if e.db != nil {
		e.db.Stop()
		e.db = nil
	}
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
	e.stops = nil
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// RedisServers are the host:port and pid of each Redis server the
// environment started (none when given a URL).
func (e *Embedded) RedisServers() (addrs []string, pids []int) {
	switch {
	case e.Cluster != nil:
		for _, n := range e.Cluster.Nodes {
			addrs, pids = append(addrs, n.Addr()), append(pids, n.PID())
		}
	case e.Redis != nil:
		addrs, pids = []string{e.Redis.Addr()}, []int{e.Redis.PID()}
	}
	return addrs, pids
}
