package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Rich messages (issue #14) in the page: attachments (button, drop, paste),
// replies, mentions, reactions, edit, recall and delete-for-me, between two
// users in two browser contexts.

// writePNG writes a w×h PNG of noise (so it does not compress: big enough
// for a visible upload) into a temporary folder and returns its path.
func writePNG(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rnd := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(rnd.UintN(256)), G: uint8(rnd.UintN(256)), B: uint8(x), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "holiday.png")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// msgSel waits for the stored message whose bubble reads body and returns
// a selector for it (by seq: the same in every member's page).
func (p *page) msgSel(body string) string {
	p.t.Helper()
	p.waitMessage(body)
	seq, err := p.eval(js(`msgs().find((e) => e.dataset.seq && e.querySelector('.bubble').textContent === %s).dataset.seq`, body))
	if err != nil {
		p.fail("seq of %q: %v", body, err)
	}
	return fmt.Sprintf(`#message-list li.msg[data-seq="%s"]`, seq)
}

// menuAction opens the menu of the message at sel and picks the item testid.
func (p *page) menuAction(sel, testid string) {
	p.t.Helper()
	p.click(sel + " .msg-actions-btn")
	p.waitVisible("#msg-menu")
	p.click(fmt.Sprintf(`#msg-menu [data-testid=%q]`, testid))
	p.waitGone("#msg-menu")
}

// reactions waits until the message at sel shows exactly want ("👍1,❤️2";
// "" for none), and mine as the pressed ones ("👍").
func (p *page) reactions(sel, want, mine string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("reactions %q (mine %q) on %s", want, mine, sel), js(`(() => {
		const rs = [...document.querySelectorAll(%s)];
		const got = rs.map((x) => x.textContent).join(',');
		const pressed = rs.filter((x) => x.getAttribute('aria-pressed') === 'true').map((x) => x.dataset.emoji).join(',');
		return got === %s && pressed === %s;
	})()`, sel+` [data-testid="reaction"]`, want, mine))
}

func (p *page) bubbleIs(sel, text string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("%s to read %q", sel, text), js(`(() => { const b = document.querySelector(%s); return !!b && b.textContent === %s; })()`, sel+" .bubble", text))
}

// imageShown: the message at sel shows its image, loaded (from a blob: URL).
func imageShown(sel string) string {
	return js(`(() => { const i = document.querySelector(%s); return !!i && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'); })()`, sel+` img[data-testid="image"]`)
}

// The change events that the timeline must never show.
const noEvents = `!msgs().some((e) => ['edit', 'recall', 'react', 'unreact'].includes(e.dataset.kind))`

func TestBrowserRichMessages(t *testing.T) {
	br, sink := settingsEnv(t)
	start := time.Now()
	alice := user{"alice@example.test", "alice", "alice-password", "Alice"}
	bob := user{"bob@example.test", "bob", "bob-password", "Bob"}
	a, b := twoFriends(br, sink, alice, bob) // bob's chat with alice is open
	a.openChat(convDirect("bob"), "Bob")

	// An image through the file input, uploaded slowly (throttled) so the
	// progress bar shows; bob sees it inline, and full size on a click.
	pic := writePNG(t, 640, 480)
	a.cdp("throttle the uploads", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{
				URLPattern: br.base + "v1/rooms/*/files", DownloadThroughput: -1, UploadThroughput: 300 << 10,
			}},
		})
		return err
	})
	a.do(chromedp.SetUploadFiles(chromedp.CSS("#composer-file"), []string{pic}))
	a.waitJS("the upload's progress", `(() => { const p = document.querySelector('[data-testid=upload-progress]'); return !!p && p.value > 0 && p.value < 100; })()`)
	a.waitText(`li.msg[data-state="uploading"] .meta`, "Uploading")
	a.shot("30-uploading")
	a.audit("uploading an attachment")
	a.waitJS("the image sent", `msgs().some((e) => e.dataset.seq && e.dataset.kind === 'image')`)
	a.waitGone("[data-testid=upload-progress]")
	img := `#message-list li.msg[data-kind="image"]`
	b.waitJS("the image inline", imageShown(img))
	b.click(img + " button.thumb")
	b.waitVisible("#image-dialog")
	b.waitJS("the full-size image", `(() => { const i = document.querySelector('#image-full'); return i.complete && i.naturalWidth === 640 && i.naturalHeight === 480; })()`)
	b.waitText("#image-dialog-title", "holiday.png")
	b.shot("31-image-full-size")
	b.audit("image dialog")
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitGone("#image-dialog")
	b.waitVisible("#chat-pane") // Escape closed the dialog only
	t.Logf("image after %v", time.Since(start).Round(time.Millisecond))

	// Edit: alice changes her message; bob sees the new text and "edited".
	a.send("Original text")
	m1 := a.msgSel("Original text")
	b.waitMessage("Original text")
	a.menuAction(m1, "action-edit")
	a.waitText("#composer-context", "Edit message")
	a.waitJS("the composer holds the text", `document.querySelector('#composer-input').value === 'Original text'`)
	a.send("Edited text")
	b.bubbleIs(m1, "Edited text")
	b.waitText(m1+` [data-testid="edited"]`, "edited")
	a.waitText(m1+` [data-testid="edited"]`, "edited")
	a.waitGone("#composer-context")

	// Reactions: bob reacts from the menu; alice sees the count; bob's own
	// is highlighted and a click on it removes it.
	b.menuAction(m1, "react-👍")
	a.reactions(m1, "👍1", "")
	b.reactions(m1, "👍1", "👍")
	b.click(m1 + ` [data-testid="reaction"]`)
	a.reactions(m1, "", "")
	b.reactions(m1, "", "")
	b.menuAction(m1, "react-👍")
	a.reactions(m1, "👍1", "")

	// The menu by keyboard: Enter opens it on the first emoji, the arrows
	// move, Enter picks; Escape closes it and gives the focus back.
	focusActions := js(`(() => { document.querySelector(%s).focus(); return true; })()`, m1+" .msg-actions-btn")
	if _, err := a.eval(focusActions); err != nil {
		t.Fatal(err)
	}
	a.do(chromedp.KeyEvent(kb.Enter))
	a.waitVisible("#msg-menu")
	a.waitJS("the focus on the first emoji", `document.activeElement && document.activeElement.dataset.testid === 'react-👍'`)
	a.shot("32-message-menu")
	a.audit("message menu")
	a.do(chromedp.KeyEvent(kb.ArrowRight))
	a.waitJS("the focus on the second emoji", `document.activeElement.dataset.testid === 'react-❤️'`)
	a.do(chromedp.KeyEvent(kb.Enter))
	a.waitGone("#msg-menu")
	b.reactions(m1, "👍1,❤️1", "👍")
	a.reactions(m1, "👍1,❤️1", "❤️")
	if _, err := a.eval(focusActions); err != nil {
		t.Fatal(err)
	}
	a.do(chromedp.KeyEvent(kb.Enter))
	a.waitVisible("#msg-menu")
	a.do(chromedp.KeyEvent(kb.End))
	a.waitJS("the focus on the last item", `document.activeElement.dataset.testid === 'action-hide'`)
	a.do(chromedp.KeyEvent(kb.Escape))
	a.waitGone("#msg-menu")
	a.waitJS("the focus back on the menu button", js(`document.activeElement === document.querySelector(%s)`, m1+" .msg-actions-btn"))
	a.waitVisible("#chat-pane") // Escape closed the menu, not the chat

	// Reply: bob quotes alice's message.
	b.menuAction(m1, "action-reply")
	b.waitText("#composer-context", "Reply to Alice")
	b.waitText("#composer-context", "Edited text")
	b.send("A reply")
	reply := b.msgSel("A reply")
	a.waitMessage("A reply")
	a.waitText(reply+` [data-testid="quote"] .quote-from`, "You")
	b.waitText(reply+` [data-testid="quote"] .quote-from`, "Alice")
	a.waitText(reply+` [data-testid="quote"] .quote-text`, "Edited text")
	b.waitText(reply+` [data-testid="quote"] .quote-text`, "Edited text")

	// Recall: alice takes back a message; bob sees "Message recalled".
	a.send("Oops, wrong chat")
	m2 := a.msgSel("Oops, wrong chat")
	b.waitMessage("Oops, wrong chat")
	a.menuAction(m2, "action-recall")
	a.waitText("#confirm-text", "Recall this message?")
	a.click("#confirm-ok")
	b.waitText(m2+` [data-testid="recalled"]`, "Message recalled")
	a.waitText(m2+` [data-testid="recalled"]`, "Message recalled")
	b.waitText(convDirect("alice")+" .conv-preview", "Message recalled")
	b.shot("33-rich-chat")
	b.audit("reactions, reply, recall")
	b.darkShot("33b-rich-chat-dark")

	// The change events are in the room, not in the timeline: image,
	// "Edited text", "A reply", the recalled one.
	for _, p := range []*page{a, b} {
		p.waitJS("no change events in the timeline", noEvents)
		p.waitJS("four messages", `msgs().length === 4`)
	}

	// Delete for me: bob hides the image; alice still has it.
	b.menuAction(img, "action-hide")
	b.click("#confirm-ok")
	b.waitGone(img)
	a.waitVisible(img)

	// After a reload bob's page shows the same from the history.
	b.open(br.base)
	b.waitVisible("#app")
	b.openChat(convDirect("alice"), "Alice")
	b.waitMessage("A reply")
	b.bubbleIs(m1, "Edited text")
	b.waitText(m1+` [data-testid="edited"]`, "edited")
	b.reactions(m1, "👍1,❤️1", "👍")
	b.waitText(m2+` [data-testid="recalled"]`, "Message recalled")
	b.waitText(reply+` [data-testid="quote"] .quote-text`, "Edited text")
	b.waitJS("the hidden image stays hidden", js(`!document.querySelector(%s)`, img))
	b.waitJS("three messages, no change events", `msgs().length === 3 && `+noEvents)
	t.Logf("changes after %v", time.Since(start).Round(time.Millisecond))

	// A file dropped on the chat (a download card), then one pasted into
	// the composer; bob downloads the first with a click.
	dropFile := `(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(['hello from a dropped file\n'], 'notes.txt', { type: 'text/plain' }));
		const pane = document.querySelector('#chat-pane');
		for (const type of ['dragenter', 'dragover', 'drop']) pane.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
		return true;
	})()`
	if _, err := a.eval(dropFile); err != nil {
		t.Fatal(err)
	}
	file := `#message-list li.msg[data-kind="file"]`
	b.waitText(file+" .file-name", "notes.txt")
	b.waitText(file+" .file-size", "26 B")
	a.waitJS("the drop zone gone", `document.querySelector('#drop-zone').hidden`)
	pasteFile := `(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(['milk, eggs\n'], 'todo.txt', { type: 'text/plain' }));
		document.querySelector('#composer-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
		return true;
	})()`
	if _, err := a.eval(pasteFile); err != nil {
		t.Fatal(err)
	}
	b.waitJS("the pasted file", `[...document.querySelectorAll('#message-list .file-name')].some((e) => e.textContent === 'todo.txt')`)
	downloads := t.TempDir()
	b.cdp("allow downloads", func(ctx context.Context) error {
		_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
			BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
		})
		return err
	})
	b.click(file + ` [data-testid="file"]`)
	deadline := time.Now().Add(waitTimeout)
	for {
		got, err := os.ReadFile(filepath.Join(downloads, "notes.txt"))
		if err == nil && string(got) == "hello from a dropped file\n" {
			break
		}
		if time.Now().After(deadline) {
			b.fail("the download: %q %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Mentions in a group: alice picks bob from the @ list; bob, in
	// another chat, sees the group marked "@", also after a reload.
	newGroup(a, "Pair", "bob")
	a.waitText("#chat-sub", "Bob")
	b.waitVisible(convGroup("Pair"))
	a.set("#composer-input", "Hi @b")
	a.waitText("#mention-list", "Bob")
	a.waitJS("the list is the textarea's", `(() => { const i = document.querySelector('#composer-input'); const o = document.getElementById(i.getAttribute('aria-activedescendant')); return i.getAttribute('aria-controls') === 'mention-list' && !!o && document.querySelector('#mention-list').contains(o); })()`)
	a.shot("34-mention-list")
	a.audit("mention list")
	a.do(chromedp.KeyEvent(kb.Enter))
	a.waitGone("#mention-list")
	a.waitJS("the name filled in", `document.querySelector('#composer-input').value === 'Hi @Bob '`)
	a.click("#composer-send")
	a.waitMessage("Hi @Bob ")
	b.waitVisible(convGroup("Pair") + ` [data-testid="mentioned"]`)
	b.open(br.base)
	b.waitVisible("#app")
	b.waitVisible(convGroup("Pair") + ` [data-testid="mentioned"]`) // from the server
	b.shot("35-mentioned")
	b.openChat(convGroup("Pair"), "Pair")
	b.waitMessage("Hi @Bob ")
	b.waitText(`#message-list li.msg.mentions-me .mention`, "@Bob")
	b.waitGone(convGroup("Pair") + ` [data-testid="mentioned"]`)
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// The menu's items and the composer's buttons have names; the composer
// leaves reply mode with Escape.
func TestBrowserRichAccessible(t *testing.T) {
	t.Parallel() // its own server and browser
	br, sink := settingsEnv(t)
	carol := user{"carol@example.test", "carol", "carol-password", "Carol"}
	dave := user{"dave@example.test", "dave", "dave-password", "Dave"}
	c, _ := twoFriends(br, sink, carol, dave)
	c.openChat(convDirect("dave"), "Dave")
	c.send("Hello")
	m := c.msgSel("Hello")
	c.waitJS("a name for every button", `[...document.querySelectorAll('button')].every((b) => (b.getAttribute('aria-label') || b.textContent).trim() !== '')`)
	c.click(m + " .msg-actions-btn")
	c.waitVisible("#msg-menu")
	c.waitJS("the menu's items", `(() => {
		const items = [...document.querySelectorAll('#msg-menu [role^=menuitem]')];
		return items.length >= 9 && items.every((i) => (i.getAttribute('aria-label') || i.textContent).trim() !== '') &&
			document.querySelector('#msg-menu').getAttribute('role') === 'menu';
	})()`)
	c.waitJS("the button says the menu is open", js(`document.querySelector(%s).getAttribute('aria-expanded') === 'true'`, m+" .msg-actions-btn"))
	c.click("#message-list") // a click elsewhere closes it
	c.waitGone("#msg-menu")
	c.menuAction(m, "action-reply")
	c.waitText("#composer-context", "Reply to yourself")
	c.waitJS("the focus in the composer", `document.activeElement.id === 'composer-input'`)
	c.do(chromedp.KeyEvent(kb.Escape))
	c.waitGone("#composer-context")
	c.waitVisible("#chat-pane") // the first Escape leaves reply mode only

	// At phone width the menu stays inside the screen.
	c.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	c.click(m + " .msg-actions-btn")
	c.waitJS("the menu inside the screen", `(() => { const r = document.querySelector('#msg-menu').getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight; })()`)
	c.shot("36-phone-message-menu")
	c.do(chromedp.KeyEvent(kb.Escape))
	c.waitGone("#msg-menu")
	c.do(chromedp.EmulateViewport(1280, 800))
}
