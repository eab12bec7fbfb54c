package web_test

import (
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// Group settings (issue #15): the owner sets the announcement, mutes a
// member and makes them an admin from the settings dialog; the muted
// member's message is refused with the server's reason, and the system
// messages tell both what happened.
func TestBrowserGroupSettings(t *testing.T) {
	t.Parallel() // its own server and browser
	chromiumPath(t)
	shots := screenshotDir(t)
	sink := testenv.NewSMTPSink(t)
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", sink)
	br := newBrowser(t, shots)
	br.base = srv.URL + "/"

	dora := user{"dora@example.test", "dora", "dora-password", "Dora"}
	eve := user{"eve@example.test", "eve", "eve-password", "Eve"}
	d, e := twoFriends(br, sink, dora, eve)
	newGroup(d, "Admins", "eve")
	e.openChat(convGroup("Admins"), "Admins")

	d.click("#chat-group-settings")
	d.waitVisible("#groupadmin-dialog")
	d.waitJS("both members listed", `document.querySelectorAll('#ga-members [data-testid=ga-member]').length === 2`)
	d.set("#ga-announcement", "Be kind")
	d.click("#ga-announce")
	d.waitText("#ga-announcement-text", "Be kind")
	d.click(`#ga-members [data-account="eve"] [data-action="mute"]`)
	d.waitJS("eve muted", `document.querySelector('#ga-members [data-account="eve"]').dataset.muted === 'yes'`)
	d.shot("40-group-settings")
	d.audit("group settings")

	e.send("can I talk?")
	e.waitText("#composer-error", "you are muted in this group until")
	e.waitJS("the system message of the mute", js(`msgs().some((m) => m.textContent.includes(%s))`, "Dora muted Eve for 1h"))

	d.click(`#ga-members [data-account="eve"] [data-action="unmute"]`)
	d.waitJS("eve unmuted", `document.querySelector('#ga-members [data-account="eve"]').dataset.muted === 'no'`)
	d.click(`#ga-members [data-account="eve"] [data-action="appoint"]`)
	d.waitJS("eve an admin", `document.querySelector('#ga-members [data-account="eve"]').dataset.role === 'admin'`)
	d.click("#groupadmin-close")

	e.send("thanks")
	e.waitMessage("thanks")
	e.click("#chat-group-settings")
	e.waitVisible("#groupadmin-dialog")
	e.waitVisible("#ga-mute-all") // an admin's controls
	e.waitJS("no buttons over the owner", `document.querySelector('#ga-members [data-account="dora"] button') === null`)
}
