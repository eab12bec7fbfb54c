package web_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Issue #19 in the page: one flow by keyboard alone, new messages read out
// through a polite live region, dialogs that keep the focus and give it
// back, Escape on menus and dialogs; the README's screenshots; and bad
// input (long names and words, right-to-left text, emoji only) at 360 px.
// One server and one browser for all of it.

// maxTabs bounds every walk through the page with Tab.
const maxTabs = 60

// key presses keys (kb constants or text typed into the focused field).
func (p *page) key(keys string, mods ...chromedp.Modifier) {
	p.t.Helper()
	var opts []chromedp.KeyOption
	for _, m := range mods {
		opts = append(opts, chromedp.KeyModifiers(m))
	}
	p.do(chromedp.KeyEvent(keys, opts...))
}

// focused is the element with the focus, as a short description.
func (p *page) focused() string {
	s, _ := p.eval(`(() => { const e = document.activeElement; if (!e) return 'nothing'; return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.dataset.testid ? '[' + e.dataset.testid + ']' : '') + ' ' + JSON.stringify((e.textContent || '').trim().slice(0, 40)); })()`)
	return s
}

// focusShown is empty when the focused element shows that it has the
// focus (an outline or a ring, not transparent), else what it is.
const focusShown = `(() => {
	const e = document.activeElement;
	if (!e || e === document.body) return '';
	const s = getComputedStyle(e);
	const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
	let o = 1;
	for (let x = e; x; x = x.parentElement) o *= +getComputedStyle(x).opacity;
	return ring && o > 0.5 ? '' : e.outerHTML.slice(0, 120);
})()`

// tabTo presses Tab (Shift+Tab with back) until the focus is on an element
// matching sel, at most maxTabs times; it fails otherwise, with the path
// the focus took. Every element on the way must show its focus.
func (p *page) tabTo(sel string, back bool) {
	p.t.Helper()
	var path []string
	for range maxTabs {
		if back {
			p.key(kb.Tab, chromedp.ModifierShift)
		} else {
			p.key(kb.Tab)
		}
		if bad, err := p.eval(focusShown); err != nil || bad != "" {
			p.fail("the focus is not visible on %s (%v)", bad, err)
		}
		if ok, _ := p.eval(js(`!!document.activeElement && document.activeElement.matches(%s)`, sel)); ok == "true" {
			return
		}
		path = append(path, p.focused())
	}
	p.fail("Tab never reached %s; the focus went: %s", sel, strings.Join(path, " → "))
}

// focusIs waits until the focus is on the element matching sel.
func (p *page) focusIs(what, sel string) {
	p.t.Helper()
	p.waitJS(what, js(`!!document.activeElement && document.activeElement.matches(%s)`, sel))
}

// trapped presses Tab and Shift+Tab through the open dialog sel, checking
// the focus never leaves it.
func (p *page) trapped(sel string) {
	p.t.Helper()
	inside := js(`!!document.activeElement && document.querySelector(%s).contains(document.activeElement)`, sel)
	p.waitJS("the focus inside "+sel, inside)
	for i := range 8 {
		if i < 5 {
			p.key(kb.Tab)
		} else {
			p.key(kb.Tab, chromedp.ModifierShift)
		}
		if ok, _ := p.eval(inside); ok != "true" {
			p.fail("Tab %d left the dialog %s: the focus is on %s", i+1, sel, p.focused())
		}
	}
}

func TestBrowserKeyboardAndNarrow(t *testing.T) {
	t.Parallel()
	br, sink := settingsEnv(t)
	start := time.Now()
	alice := user{"alice@example.test", "alice", "alice-password", "Alice"}
	bob := user{"bob@example.test", "bob", "bob-password", "Bob"}
	a, b := twoFriends(br, sink, alice, bob) // bob's chat with alice is open
	newGroup(b, "Weekend trip", "alice")
	b.send("Who brings the tent?")
	b.waitMessage("Who brings the tent?")

	// alice, by keyboard alone: log out and in again, open the group, send,
	// open a message's menu and close it, leave the group.
	a.waitVisible(convGroup("Weekend trip"))
	a.tabTo("#btn-logout", false) // to the login form, as a new visitor sees it
	a.key(kb.Enter)
	a.waitVisible("#login-form")
	a.focusIs("the focus in the login field", "#login-login")
	a.key(alice.account)
	a.key(kb.Tab)
	a.focusIs("the focus in the password field", "#login-password")
	a.key(alice.password)
	a.key(kb.Enter)
	a.waitVisible("#app")
	a.connected()
	a.waitVisible(convGroup("Weekend trip"))
	a.tabTo(convGroup("Weekend trip")+" .conv-btn", false)
	a.key(kb.Enter)
	a.waitText("#chat-title", "Weekend trip")
	a.waitMessage("Who brings the tent?")
	a.focusIs("the focus in the composer", "#composer-input")
	a.key("I do!")
	a.key(kb.Enter)
	a.waitMessage("I do!")
	b.waitMessage("I do!")
	mine := a.msgSel("I do!")
	a.tabTo(mine+" .msg-actions-btn", true)
	a.key(kb.Enter)
	a.waitVisible("#msg-menu")
	a.focusIs("the focus on the menu's first item", "#msg-menu [role^=menuitem]")
	a.key(kb.Escape)
	a.waitGone("#msg-menu")
	a.focusIs("the focus back on the menu button", mine+" .msg-actions-btn")
	a.waitVisible("#chat-pane") // Escape closed the menu, not the chat
	a.tabTo("#chat-leave", true)
	a.key(kb.Enter)
	a.waitText("#confirm-text", "Leave “Weekend trip”?")
	a.audit("confirm dialog")
	a.trapped("#confirm-dialog")
	a.key(kb.Escape) // Escape closes the dialog, and the focus goes back
	a.waitGone("#confirm-dialog")
	a.focusIs("the focus back on Leave", "#chat-leave")
	a.waitVisible(convGroup("Weekend trip")) // nothing left
	a.key(kb.Enter)
	a.waitVisible("#confirm-dialog")
	a.tabTo("#confirm-ok", false)
	a.key(kb.Enter)
	a.waitGone(convGroup("Weekend trip"))
	b.waitText("#chat-sub", "1 member")
	t.Logf("keyboard flow after %v", time.Since(start).Round(time.Millisecond))

	// The new-group dialog: keeps the focus, Escape closes it, the focus
	// goes back to its button.
	a.tabTo("#btn-new-group", true)
	a.key(kb.Enter)
	a.waitVisible("#pick-bob")
	a.trapped("#group-dialog")
	a.key(kb.Escape)
	a.waitGone("#group-dialog")
	a.focusIs("the focus back on New group", "#btn-new-group")

	// New messages are read out politely: in the open chat, and from
	// another chat.
	a.waitJS("a polite live region", `(() => { const r = document.querySelector('#announcer'); return r.getAttribute('aria-live') === 'polite' && r.getAttribute('role') === 'status'; })()`)
	a.waitJS("the message list is not a live region (it is redrawn)", `!document.querySelector('#messages').hasAttribute('aria-live') && !document.querySelector('#messages').closest('[aria-live]')`)
	a.openChat(convDirect("bob"), "Bob")
	b.openChat(convDirect("alice"), "Alice")
	b.send("Are you coming on Saturday?")
	a.waitMessage("Are you coming on Saturday?")
	a.waitText("#announcer", "Bob: Are you coming on Saturday?")
	b.openChat(convGroup("Weekend trip"), "Weekend trip")
	newGroup(b, "Climbing", "alice")
	b.send("Rope check at 9")
	a.waitText("#announcer", "New message from Bob in Climbing: Rope check at 9")
	a.send("Yes, I will bring the snacks")
	b.openChat(convDirect("alice"), "Alice")
	b.waitMessage("Yes, I will bring the snacks")
	b.send("Great, see you at 10")
	a.waitMessage("Great, see you at 10")

	// The README's screenshots: the chat in light and in dark mode.
	a.do(chromedp.EmulateViewport(1000, 620))
	a.openChat(convDirect("bob"), "Bob")
	a.waitMessage("Great, see you at 10")
	a.audit("readme chat")
	a.emulateScheme("light")
	a.shot("readme-chat-light")
	a.emulateScheme("dark")
	a.shot("readme-chat-dark")
	a.emulateScheme("")

	// Bad input at 360 px: long names and words, right-to-left text,
	// emoji only.
	long := user{"long@example.test", "long_name_32_characters_exactly", "long-password", strings.Repeat("W", 32)}
	l := br.page("long")
	register(l, sink, long, false)
	befriend(a, l, alice, long, "")
	groupName := "Group " + strings.Repeat("Ø", 58)
	newGroup(a, groupName, long.account, "bob")
	bodies := []string{
		"https://example.test/" + strings.Repeat("a-very-long-path-without-spaces/", 12),
		strings.Repeat("Supercalifragilistic", 20),
		"مرحبا بكم جميعا! هذه رسالة طويلة مكتوبة من اليمين إلى اليسار للتأكد من أن الصفحة تعرضها بشكل صحيح",
		"שלום 123 abc עולם — mixed direction text",
		"😀",
		strings.Repeat("🎉", 40),
		"👨‍👩‍👧‍👦👍🏽🇯🇵",
	}
	for _, s := range bodies {
		l.openChat(convGroup(groupName), groupName)
		l.send(s)
		a.waitMessage(s)
	}
	narrow := func(view string) {
		a.t.Helper()
		a.waitJS("no horizontal overflow at "+view, `document.documentElement.scrollWidth <= innerWidth && document.body.scrollWidth <= innerWidth`)
		// Inside the scroll boxes too (the body clips): every shown element
		// of the page lies within the window's width.
		out, err := a.eval(`(() => {
			const bad = [];
			for (const e of document.querySelectorAll('#app *, #toast, #toast *, #banner')) {
				if (!vis(e) || e.closest('.visually-hidden')) continue;
				const r = e.getBoundingClientRect();
				if (r.width && (r.left < -1 || r.right > innerWidth + 1)) bad.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
			}
			for (const e of document.querySelectorAll('#messages, #sidebar, #conversations')) {
				if (vis(e) && e.scrollWidth > e.clientWidth + 1) bad.push(e.id + ' scrolls sideways: ' + e.scrollWidth + ' > ' + e.clientWidth);
			}
			return bad.slice(0, 10).join('; ');
		})()`)
		if err != nil || out != "" {
			a.fail("%s at 360 px: outside the window: %s %v", view, out, err)
		}
	}
	a.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	a.waitText("#chat-title", groupName) // newGroup opened it
	for _, s := range bodies {
		a.waitMessage(s)
	}
	narrow("the chat")
	overlap, err := a.eval(`(() => {
		const boxes = [...document.querySelectorAll('#message-list li.msg')].map((e) => e.getBoundingClientRect());
		const bad = [];
		for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
			const p = boxes[i], q = boxes[j];
			const x = Math.min(p.right, q.right) - Math.max(p.left, q.left);
			const y = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
			if (x > 1 && y > 1) bad.push(i + '/' + j);
		}
		return boxes.length + ' ' + bad.join(',');
	})()`)
	if err != nil || !strings.HasSuffix(overlap, " ") || strings.HasPrefix(overlap, "0 ") {
		a.fail("messages overlap at 360 px (count, pairs): %q %v", overlap, err)
	}
	a.waitJS("the right-to-left message set right to left", js(`msgs().some((e) => { const b = e.querySelector('.bubble'); return b.textContent === %s && getComputedStyle(b).direction === 'rtl'; })`, bodies[2]))
	a.audit("narrow chat")
	a.shot("50-narrow-chat")
	a.darkShot("50b-narrow-chat-dark")
	a.key(kb.Escape) // closes the chat: the list
	a.waitVisible("#sidebar")
	narrow("the list")
	a.shot("51-narrow-list")

	// The phone's chat menu: by keyboard, and Escape closes it.
	a.openChat(convGroup(groupName), groupName)
	a.waitVisible("#chat-menu")
	a.tabTo("#chat-menu", true)
	a.key(kb.Enter)
	a.waitVisible("#chat-leave")
	a.key(kb.Escape)
	a.waitGone("#chat-leave")
	a.focusIs("the focus back on the menu button", "#chat-menu")
	a.waitVisible("#chat-pane") // the menu closed, the chat stays
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
	if dir := os.Getenv("IM_SCREENSHOT_DIR"); dir != "" {
		t.Logf("README screenshots: %s/readme-chat-light.png, readme-chat-dark.png", dir)
	}
}
