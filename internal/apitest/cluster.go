package apitest

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Node is one gateway of a Cluster.
type Node struct {
	GW       *gateway.Gateway
	Server   *httptest.Server
	Backends app.Backends
	URL      string // ws://127.0.0.1:port/ws
}

// Cluster is an API and several gateway nodes sharing Redis and the store.
type Cluster struct {
	*Env
	Nodes []*Node
}

// NodeOptions tweak each gateway.
type NodeOptions func(*gateway.Options)

// NewCluster starts an API and n gateways, each with its own Redis and
// MongoDB connections, verifying tokens with the API's JWKS over HTTP.
func NewCluster(t testing.TB, n int, o Options, tweak ...NodeOptions) *Cluster {
	t.Helper()
	c := &Cluster{Env: New(t, o)}
	for i := 0; i < n; i++ {
		c.StartNode(tweak...)
	}
	return c
}

// StartNode adds a gateway node (to Nodes, and returns it).
func (c *Cluster) StartNode(tweak ...NodeOptions) *Node {
	return c.StartNodeWith(NodeSetup{Tweak: tweak})
}

// StartNodeOn adds a gateway node whose listener is wrapped by wrap (nil:
// as it is), e.g. to give accepted sockets small buffers.
func (c *Cluster) StartNodeOn(wrap func(net.Listener) net.Listener, tweak ...NodeOptions) *Node {
	return c.StartNodeWith(NodeSetup{Listener: wrap, Tweak: tweak})
}

// NodeSetup says how to start a node; the zero value starts a plain one.
type NodeSetup struct {
	Listener func(net.Listener) net.Listener // wraps the node's listener
	Store    func(store.Store) store.Store   // wraps the node's store (fault injection)
	Tweak    []NodeOptions
}

// StartNodeWith adds a gateway node set up as ns says.
func (c *Cluster) StartNodeWith(ns NodeSetup) *Node {
	t := c.T
	t.Helper()
	cfg := c.Config
	cfg.JWKSURL = c.URL + "/.well-known/jwks.json"
	ver, _, err := app.GatewayVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var h app.Deferred
	b := Backends(t, cfg, &h)
	if len(cfg.Webhooks) > 0 {
		// The node writes the shared outbox; the API's dispatcher delivers.
		if err := app.SetupWebhooks(cfg, &b, c.Log, prometheus.NewRegistry()); err != nil {
			t.Fatal(err)
		}
	}
	if ns.Store != nil {
		b.Store = ns.Store(b.Store)
	}
	svc := app.GatewayService(b, c.Log, app.IdentityLimits(cfg, Generous()))
	opts := app.GatewayOptions(cfg, c.Log, prometheus.NewRegistry())
	opts.NodeID = "node" + Unique("")
	opts.Presence = b.Presence
	opts.Stats = b.Stats
	for _, f := range ns.Tweak {
		f(&opts)
	}
	tokens, err := app.Tokens(cfg, svc, ver, nil, c.Log)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(svc, tokens, opts)
	if err != nil {
		t.Fatal(err)
	}
	gw.SetBus(b.Bus)
	h.Set(gw)
	gw.Run()
	mux := http.NewServeMux()
	mux.Handle("GET /ws", gw)
	srv := httptest.NewUnstartedServer(mux)
	if ns.Listener != nil {
		srv.Listener = ns.Listener(srv.Listener)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = gw.Close(); svc.Close() })
	node := &Node{GW: gw, Server: srv, Backends: b, URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"}
	c.Nodes = append(c.Nodes, node)
	return node
}

// Settle waits (up to 10 s) until every node's bus subscriptions match its
// connections, so that a message published now reaches them live.
func (c *Cluster) Settle() {
	c.T.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		ok := true
		for _, n := range c.Nodes {
			ok = ok && n.GW.Settled()
		}
		if ok {
			return
		}
	}
	c.T.Fatal("apitest: gateway subscriptions did not settle in 10s")
}

// WS is a test WebSocket client: a goroutine reads frames into a channel.
type WS struct {
	T    testing.TB
	Conn net.Conn
	rd   io.Reader
	// backlog holds frames WaitFor passed over; used by the test
	// goroutine only.
	backlog []protocol.Outbound
	Hello   protocol.Outbound
	frames  chan protocol.Outbound
	mu      sync.Mutex
	err     error
	Closed  chan struct{}
	deflate bool // permessage-deflate negotiated (DialWSDeflate)
}

// DialWS connects with a bearer token and reads hello.
func DialWS(t testing.TB, url, token string) *WS {
	t.Helper()
	return dialWS(t, url, token, false)
}

// DialWSDeflate is DialWS offering permessage-deflate (no context
// takeover), as browsers do; it fails the test if the gateway does not
// accept it. Frames of 512 bytes and more are sent compressed, and
// compressed frames from the gateway are inflated.
func DialWSDeflate(t testing.TB, url, token string) *WS {
	t.Helper()
	return dialWS(t, url, token, true)
}

func dialWS(t testing.TB, url, token string, deflate bool) *WS {
	t.Helper()
	c, err := tryDialWS(url, token, nil, deflate)
	if err == nil && deflate && !c.deflate {
		_ = c.Conn.Close()
		err = errors.New("permessage-deflate not negotiated")
	}
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.T = t
	t.Cleanup(func() { _ = c.Conn.Close() })
	h, err := c.Next(5 * time.Second)
	if err != nil || h.Type != protocol.TypeHello {
		t.Fatalf("hello: %+v %v", h, err)
	}
	c.Hello = h
	return c
}

// TryDialWS connects; hdr adds request headers.
func TryDialWS(url, token string, hdr http.Header) (*WS, error) {
	return tryDialWS(url, token, hdr, false)
}

func tryDialWS(url, token string, hdr http.Header, deflate bool) (*WS, error) {
	if hdr == nil {
		hdr = http.Header{}
	}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(hdr), Timeout: 5 * time.Second}
	if deflate {
		d.Extensions = []httphead.Option{wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}.Option()}
	}
	conn, br, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		return nil, err
	}
	var rd io.Reader = conn
	if br != nil { // frames that arrived with the handshake response
		rd = io.MultiReader(br, conn)
	}
	c := &WS{Conn: conn, rd: rd, frames: make(chan protocol.Outbound, 100000), Closed: make(chan struct{})}
	for _, x := range hs.Extensions {
		c.deflate = c.deflate || bytes.Equal(x.Name, wsflate.ExtensionNameBytes)
	}
	go c.read()
	return c, nil
}

// readText reads the next text message, inflating it when compressed.
func (c *WS) readText() ([]byte, error) {
	rw := struct {
		io.Reader
		io.Writer
	}{c.rd, c.Conn}
	if !c.deflate {
		return wsutil.ReadServerText(rw)
	}
	var ms wsflate.MessageState
	ctl := wsutil.ControlFrameHandler(rw, ws.StateClientSide)
	rd := wsutil.Reader{Source: c.rd, State: ws.StateClientSide | ws.StateExtended, OnIntermediate: ctl,
		Extensions: []wsutil.RecvExtension{&ms}}
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return nil, err
		}
		if h.OpCode.IsControl() {
			if err := ctl(h, &rd); err != nil {
				return nil, err
			}
			continue
		}
		if h.OpCode != ws.OpText {
			if err := rd.Discard(); err != nil {
				return nil, err
			}
			continue
		}
		if !ms.IsCompressed() {
			return io.ReadAll(&rd)
		}
		return io.ReadAll(wsflate.NewReader(&rd, func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) }))
	}
}

func (c *WS) read() {
	defer close(c.Closed)
	for {
		b, err := c.readText()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		o, err := protocol.DecodeOutbound(b)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		select {
		case c.frames <- o:
		default: // a test that never reads: drop rather than block
		}
	}
}

// Err is why the reader stopped (a *wsutil.ClosedError for a close frame).
func (c *WS) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// CloseCode waits for the connection to end and returns the close status
// the server sent (0 if none).
func (c *WS) CloseCode(timeout time.Duration) ws.StatusCode {
	select {
	case <-c.Closed:
	case <-time.After(timeout):
		return 0
	}
	var ce wsutil.ClosedError
	if errors.As(c.Err(), &ce) {
		return ce.Code
	}
	return 0
}

// Send writes one frame (a value marshalled to JSON, or raw bytes).
func (c *WS) Send(v any) error {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	if !c.deflate || len(b) < 512 {
		return wsutil.WriteClientText(c.Conn, b)
	}
	f, err := wsflate.CompressFrame(ws.NewTextFrame(b))
	if err != nil {
		return err
	}
	out, err := ws.CompileFrame(ws.MaskFrameInPlace(f))
	if err != nil {
		return err
	}
	_, err = c.Conn.Write(out) // one write: Send may run concurrently
	return err
}

// Next returns the next frame (frames skipped by WaitFor first).
func (c *WS) Next(timeout time.Duration) (protocol.Outbound, error) {
	if len(c.backlog) > 0 {
		o := c.backlog[0]
		c.backlog = c.backlog[1:]
		return o, nil
	}
	select {
	case o := <-c.frames:
		return o, nil
	case <-time.After(timeout):
		return protocol.Outbound{}, errors.New("no frame in time")
	}
}

// WaitFor returns the first frame matching pred. Frames it passes over are
// kept, in order, for later Next and WaitFor calls.
func (c *WS) WaitFor(timeout time.Duration, pred func(protocol.Outbound) bool) (protocol.Outbound, error) {
	for i, o := range c.backlog {
		if pred(o) {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			return o, nil
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return protocol.Outbound{}, errors.New("no matching frame in time")
		}
		select {
		case o := <-c.frames:
			if pred(o) {
				return o, nil
			}
			c.backlog = append(c.backlog, o)
		case <-time.After(left):
			return protocol.Outbound{}, errors.New("no matching frame in time")
		}
	}
}

// Drop forgets frames passed over so far.
func (c *WS) Drop() { c.backlog = nil }

// SendMsg sends a send frame.
func (c *WS) SendMsg(room, body, cmid string) error {
	return c.Send(map[string]string{"type": "send", "room_id": room, "body": body, "client_msg_id": cmid})
}

// Ack waits for the ack (or error) of cmid.
func (c *WS) Ack(cmid string, timeout time.Duration) (protocol.Outbound, error) {
	return c.WaitFor(timeout, func(o protocol.Outbound) bool {
		return (o.Type == protocol.TypeAck || o.Type == protocol.TypeError) && o.ClientMsgID == cmid
	})
}

// SendReliably sends a message as a real client does: it waits for the
// ack and, on `unavailable`, `rate_limited` or no answer in time, sends the
// same frame again with the same client_msg_id, backing off, up to tries
// times. It returns the ack and how many retries it took; any other error
// frame ends it.
func (c *WS) SendReliably(room, body, cmid string, tries int, timeout time.Duration) (protocol.Outbound, int, error) {
	backoff := 20 * time.Millisecond
	var last error
	for try := 0; try < tries; try++ {
		if try > 0 {
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
		}
		if err := c.SendMsg(room, body, cmid); err != nil {
			return protocol.Outbound{}, try, err
		}
		o, err := c.Ack(cmid, timeout)
		switch {
		case err != nil:
			last = fmt.Errorf("no answer to %s: %w", cmid, err)
		case o.Type == protocol.TypeAck:
			return o, try, nil
		case o.Code == protocol.CodeUnavailable || o.Code == protocol.CodeRateLimited:
			last = fmt.Errorf("%s: %s", o.Code, o.ErrMessage)
		default:
			return o, try, fmt.Errorf("send %s: error frame %s: %s", cmid, o.Code, o.ErrMessage)
		}
	}
	return protocol.Outbound{}, tries, fmt.Errorf("send %s: gave up after %d tries: %w", cmid, tries, last)
}
