// Command gobot is a tiny bot on the Go SDK (pkg/client): it logs in over
// REST, connects to the gateways and answers every text message of its
// rooms with "echo: <the message>". Befriend it or add it to a group from
// the web client to talk to it.
//
//	GOBOT_PASSWORD=... go run ./examples/gobot -api http://127.0.0.1:8080 -login echobot
//
// The password is read from the environment (GOBOT_PASSWORD), never from
// a flag (flags show in the process list). -ws defaults to the API's /ws
// (standalone); give the gateways' URLs, comma-separated, in a cluster.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/client"
)

func main() {
	api := flag.String("api", "http://127.0.0.1:8080", "the REST API's base URL")
	wsURLs := flag.String("ws", "", "gateway WebSocket URLs, comma-separated (default: the API's /ws)")
	login := flag.String("login", "echobot", "the bot's account or email")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *api, *wsURLs, *login, os.Getenv("GOBOT_PASSWORD"), log); err != nil {
		log.Error("gobot", "err", err)
		os.Exit(1)
	}
}

// run is the bot until ctx ends.
func run(ctx context.Context, api, wsURLs, login, password string, log *slog.Logger) error {
	if password == "" {
		return errors.New("set GOBOT_PASSWORD")
	}
	tokens := &tokenSource{api: api, http: &http.Client{Timeout: 10 * time.Second}}
	if err := tokens.login(ctx, login, password); err != nil {
		return err
	}
	urls := strings.Split(wsURLs, ",")
	if wsURLs == "" {
		urls = []string{"ws" + strings.TrimPrefix(api, "http") + "/ws"}
	}
	c, err := client.Dial(ctx, client.Options{URLs: urls, Token: tokens.token, Logger: log})
	if err != nil {
		return err
	}
	defer c.Close()
	log.Info("gobot: connected", "user_id", c.UserID())
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-c.Events():
			if !ok {
				return errors.New("the client stopped (session revoked?)")
			}
			m, isMsg := ev.(*client.MessageEvent)
			if !isMsg || m.Message.From == c.UserID() || m.Message.Kind != "text" {
				continue
			}
			// Send retries by itself (same client_msg_id) until the
			// server answers; a refusal (e.g. forbidden) comes back here.
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := c.Send(sctx, m.Message.RoomID, "echo: "+m.Message.Body, client.SendOptions{ReplyTo: m.Message.Seq})
			cancel()
			if err != nil {
				log.Warn("gobot: echo failed", "room", m.Message.RoomID, "err", err)
			}
		}
	}
}

// tokenSource keeps an access token fresh with the refresh token.
type tokenSource struct {
	api  string
	http *http.Client

	mu      sync.Mutex
	access  string
	refresh string
	expires time.Time
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

func (s *tokenSource) login(ctx context.Context, login, password string) error {
	return s.post(ctx, "/v1/auth/login", map[string]string{"login": login, "password": password, "device": "gobot"})
}

// token is the client's token source: the cached token, refreshed when it
// is past half its life.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Now().Before(s.expires) {
		return s.access, nil
	}
	if err := s.postLocked(ctx, "/v1/auth/refresh", map[string]string{"refresh_token": s.refresh}); err != nil {
		return "", err
	}
	return s.access, nil
}

func (s *tokenSource) post(ctx context.Context, path string, body any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.postLocked(ctx, path, body)
}

func (s *tokenSource) postLocked(ctx context.Context, path string, body any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", s.api+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(res.Body).Decode(&e)
		return fmt.Errorf("%s: %d %s: %s", path, res.StatusCode, e.Error.Code, e.Error.Message)
	}
	var t tokens
	if err := json.NewDecoder(res.Body).Decode(&t); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	s.access, s.refresh = t.AccessToken, t.RefreshToken
	s.expires = time.Now().Add(time.Duration(t.ExpiresIn) * time.Second / 2)
	return nil
}
