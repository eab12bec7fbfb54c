package web_test

import (
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// TestBrowserPresenceAndTyping: two friends in two pages. The header of
// the chat and the list show the friend online; "typing…" appears while
// the friend types and goes when the message arrives; when the friend's
// page goes away, after the grace, the header says "last seen".
func TestBrowserPresenceAndTyping(t *testing.T) {
	t.Parallel() // its own server and browser
	chromiumPath(t)
	shots := screenshotDir(t)
	sink := testenv.NewSMTPSink(t)
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", sink)
	br := newBrowser(t, shots)
	br.base = srv.URL + "/"
	dan := user{"dan@example.test", "dan", "dan-password", "Dan"}
	eve := user{"eve@example.test", "eve", "eve-password", "Eve"}
	d, e := twoFriends(br, sink, dan, eve) // eve's chat with dan is open

	e.waitJS("Dan online in the chat header", `document.querySelector('#chat-sub').textContent.includes('online')`)
	e.waitVisible(convDirect("dan") + ` [data-testid="online"]`)

	d.openChat(convDirect("eve"), "Eve")
	d.waitJS("Eve online in the chat header", `document.querySelector('#chat-sub').textContent.includes('online')`)
	d.set("#composer-input", "hello th")
	e.waitText("#chat-sub", "Dan is typing…")
	e.shot("presence-typing")
	e.audit("typing")
	d.set("#composer-input", "hello there")
	d.click("#composer-send")
	e.waitMessage("hello there")
	e.waitJS("the typing line gone", `!document.querySelector('#chat-sub').textContent.includes('typing')`)

	// Dan's page goes away: offline after the grace (5 s), with last seen.
	// Dan's page closes (a page merely navigated away may keep its
	// socket in the back-forward cache).
	d.close()
	e.waitJS("Dan last seen", `document.querySelector('#chat-sub').textContent.includes('last seen')`)
	e.waitGone(convDirect("dan") + ` [data-testid="online"]`)
	e.shot("presence-last-seen")
}
