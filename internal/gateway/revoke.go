package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/wsnet"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Sockets of revoked sessions close on a session_revoked event from the
// user's bus channel, within one bus hop of the revocation. The bus may
// drop a message, and a socket may join between its token check and the
// node subscribing to the user's channel, so a slower sweep also checks
// every socket's token against the revocations (revocationLoop).

// tokenInfo is what the revocation checks need of a socket's token.
type tokenInfo struct {
	sid string
	iat time.Time
}

func (c *client) claims() auth.Claims {
	t := c.tok.Load()
	if t == nil {
		return auth.Claims{UserID: c.uid}
	}
	return auth.Claims{UserID: c.uid, SessionID: t.sid, IssuedAt: t.iat}
}

func (c *client) setToken(cl auth.Claims) {
	c.tok.Store(&tokenInfo{sid: cl.SessionID, iat: cl.IssuedAt})
}

// closeRevoked closes uid's sockets named by a session_revoked event frame,
// after writing the frame to them.
func (g *Gateway) closeRevoked(uid string, frame []byte) {
	var ev struct {
		Data service.RevokedEvent `json:"data"`
	}
	if err := json.Unmarshal(frame, &ev); err != nil {
		g.log.Warn("bad session_revoked event", zap.Error(err))
		return
	}
	for _, c := range g.hub.clientsOf(uid) {
		if ev.Data.All || slices.Contains(ev.Data.SessionIDs, c.claims().SessionID) {
			g.endRevoked(c, frame, ev.Data.Reason)
		}
	}
}

func (g *Gateway) endRevoked(c *client, frame []byte, reason string) {
	conn := c.conn.Load()
	if conn == nil {
		return
	}
	if reason == "" {
		reason = "session revoked"
	}
	conn.Send(frame)
	conn.Close(ws.StatusCode(protocol.CloseSessionRevoked), reason)
	g.m.revoked.Inc()
}

// revocationBatch bounds one KV read of the sweep.
const revocationBatch = 256

// revocationLoop checks every socket's token against the revocations
// every RevocationCheck, in batches, and closes the revoked ones.
func (g *Gateway) revocationLoop(ctx context.Context) {
	t := time.NewTicker(g.opts.RevocationCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var batch []*client
		g.ws.Range(func(conn *wsnet.Conn) bool {
			if c, ok := conn.Data().(*client); ok {
				batch = append(batch, c)
			}
			if len(batch) == revocationBatch {
				g.checkRevoked(batch)
				batch = batch[:0]
			}
			return ctx.Err() == nil
		})
		if len(batch) > 0 {
			g.checkRevoked(batch)
		}
	}
}

func (g *Gateway) checkRevoked(cs []*client) {
	claims := make([]auth.Claims, len(cs))
	for i, c := range cs {
		claims[i] = c.claims()
	}
	ctx, cancel := g.opCtx()
	rv, err := g.svc.Revoked(ctx, claims)
	cancel()
	if err != nil {
		g.log.Warn("revocation check", zap.Error(err))
		return
	}
	for i, revoked := range rv {
		if revoked {
			ev := service.RevokedEvent{Reason: "session revoked"}
			if sid := claims[i].SessionID; sid != "" {
				ev.SessionIDs = []string{sid}
			}
			g.endRevoked(cs[i], protocol.EncodeEvent(protocol.EventSessionRevoked, ev), ev.Reason)
		}
	}
}
