package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/client"
)

// The bot answers a friend's message with its echo, as a reply.
func TestBotEchoes(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	bot, u := cl.Register("bot"), cl.Register("human")
	room := cl.Befriend(bot, u)
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer dcancel()
	c, err := client.Dial(dctx, client.Options{URLs: []string{cl.Nodes[0].URL}, Token: client.StaticToken(u.Token)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cl.URL, cl.Nodes[0].URL, bot.Account, bot.Password, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot: %v", err)
		}
	}()
	// The bot is online (its friend is told) before the message is sent:
	// it knows no rooms, and learns this one from its first live message.
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	for online := false; !online; {
		select {
		case ev := <-c.Events():
			p, ok := ev.(*client.PresenceEvent)
			online = ok && p.UserID == bot.ID && p.Online
		case <-timer.C:
			t.Fatal("the bot did not come online in 20s")
		}
	}
	cl.Settle()
	sent, err := c.Send(dctx, room, "hello bot", client.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-c.Events():
			m, ok := ev.(*client.MessageEvent)
			if ok && m.Message.From == bot.ID {
				if m.Message.Body != "echo: hello bot" || m.Message.ReplyTo != sent.Seq {
					t.Fatalf("echo: %+v", m.Message)
				}
				return
			}
		case <-timer.C:
			t.Fatal("no echo in 20s")
		}
	}
}
