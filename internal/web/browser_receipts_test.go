package web_test

import (
	"testing"
)

// Read receipts and blocking (issue #15) in the page, between two users in
// two browser contexts: "Read" under alice's message once bob's open chat
// read it; in a group "Read by 1" and who; bob blocked from alice's
// profile card, then unblocked.
func TestBrowserReceipts(t *testing.T) {
	t.Parallel() // its own server and browser
	br, sink := settingsEnv(t)
	alice := user{"alice@example.test", "alice", "alice-password", "Alice"}
	bob := user{"bob@example.test", "bob", "bob-password", "Bob"}
	a, b := twoFriends(br, sink, alice, bob) // bob's chat with alice is open
	a.openChat(convDirect("bob"), "Bob")

	// Bob's open chat marks it read: alice sees the tick live.
	a.send("Did you read this?")
	m := a.msgSel("Did you read this?")
	b.waitMessage("Did you read this?")
	a.waitText(m+` [data-testid="read-tick"]`, "Read")
	a.shot("40-read-tick")

	// After a reload the tick comes from the history (the readers of her
	// message), not from a live event.
	a.open(br.base)
	a.waitVisible("#app")
	a.openChat(convDirect("bob"), "Bob")
	a.waitMessage("Did you read this?")
	a.waitText(m+` [data-testid="read-tick"]`, "Read")

	// A group: bob reads alice's message; she sees "Read by 1", and who.
	newGroup(a, "Readers", "bob")
	a.send("Group news")
	g := a.msgSel("Group news")
	b.openChat(convGroup("Readers"), "Readers")
	b.waitMessage("Group news")
	a.waitText(g+` [data-testid="read-by"]`, "Read by 1")
	a.click(g + ` [data-testid="read-by"]`)
	a.waitText("#toast", "Read by Bob")
	a.shot("41-read-by")
	a.audit("read by")

	// Alice blocks bob from his profile card, then unblocks him.
	a.set("#find-account", "bob")
	a.click("#find-submit")
	a.waitText(`[data-testid="block"]`, "Block")
	a.click(`[data-testid="block"]`)
	a.waitText(`[data-testid="block"]`, "Unblock")
	a.shot("42-blocked")
	a.click(`[data-testid="block"]`)
	a.waitText(`[data-testid="block"]`, "Block")
}
