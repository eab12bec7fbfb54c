package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// richHistory reads the whole history of room as token sees it.
func richHistory(t *testing.T, cl *apitest.Cluster, token, room string) map[int64]protocol.Message {
	t.Helper()
	var h struct {
		Messages []protocol.Message
	}
	r := cl.Do("GET", "/v1/rooms/"+room+"/messages?after=0&limit=100", token, nil)
	if r.Status != 200 {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &h)
	out := map[int64]protocol.Message{}
	for _, m := range h.Messages {
		out[m.Seq] = m
	}
	return out
}

// frameAck sends frame v and waits for the ack (or error) of its cmid.
func frameAck(t *testing.T, c *apitest.WS, v map[string]any) protocol.Outbound {
	t.Helper()
	if err := c.Send(v); err != nil {
		t.Fatal(err)
	}
	o, err := c.Ack(v["client_msg_id"].(string), wait)
	if err != nil {
		t.Fatalf("%v: %v", v, err)
	}
	return o
}

func mustFrameAck(t *testing.T, c *apitest.WS, v map[string]any) *protocol.Message {
	t.Helper()
	o := frameAck(t, c, v)
	if o.Type != protocol.TypeAck {
		t.Fatalf("%v: %s %s", v, o.Code, o.ErrMessage)
	}
	return o.Message
}

// upload posts a file to room as a multipart form.
func upload(t *testing.T, cl *apitest.Cluster, token, room, name string, data []byte) apitest.Resp {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", cl.URL+"/v1/rooms/"+room+"/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%h, color.RGBA{R: uint8(x), G: 80, B: 160, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// msgAt waits on c for the message of room at seq.
func msgAt(t *testing.T, c *apitest.WS, room string, seq int64) *protocol.Message {
	t.Helper()
	o, err := c.WaitFor(wait, func(o protocol.Outbound) bool {
		return isMsg(room)(o) && o.Message.Seq == seq
	})
	if err != nil {
		t.Fatalf("waiting for seq %d of %s: %v", seq, room, err)
	}
	return o.Message
}

// Every kind, a reply, an edit, a reaction, a recall and delete-for-me,
// sent on one node and seen live on the other, then in history; a member
// offline during the changes converges by sync.
func TestRichMessagesAcrossNodes(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	a, b, stranger := cl.Register("xa"), cl.Register("xb"), cl.Register("xs")
	room := cl.Befriend(a, b)
	a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	b1 := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()

	text := mustFrameAck(t, a0, map[string]any{"type": "send", "room_id": room, "body": "hello", "client_msg_id": "t1"})
	if got := msgAt(t, b1, room, text.Seq); got.Kind != "text" || got.Body != "hello" {
		t.Fatalf("text on the other node: %+v", got)
	}
	custom := mustFrameAck(t, a0, map[string]any{"type": "send", "room_id": room, "kind": "custom",
		"data": map[string]any{"lat": 52.5, "lng": 13.4}, "body": "a place", "client_msg_id": "c1"})
	if got := msgAt(t, b1, room, custom.Seq); got.Kind != "custom" || !json.Valid(got.Data) || !bytes.Contains(got.Data, []byte(`"lat":52.5`)) {
		t.Fatalf("custom on the other node: %+v %s", got, got.Data)
	}

	// An image: uploaded through the API, sent through the gateway.
	pic := testPNG(t, 640, 480)
	up := upload(t, cl, a.Token, room, "holiday.png", pic)
	var f struct {
		FileID      string `json:"file_id"`
		ContentType string `json:"content_type"`
		Width       int
		Height      int
		Thumbnail   bool
		Size        int64
	}
	if up.Status != 201 {
		t.Fatalf("upload: %d %s", up.Status, up.Body)
	}
	up.JSON(t, &f)
	if f.ContentType != "image/png" || f.Width != 640 || f.Height != 480 || !f.Thumbnail || f.Size != int64(len(pic)) {
		t.Fatalf("upload answer: %+v", f)
	}
	img := mustFrameAck(t, a0, map[string]any{"type": "send", "room_id": room, "kind": "image", "file_id": f.FileID,
		"body": "the beach", "client_msg_id": "i1"})
	got := msgAt(t, b1, room, img.Seq)
	if got.Kind != "image" || !bytes.Contains(got.Attachment, []byte(f.FileID)) || !bytes.Contains(got.Attachment, []byte(`"width":640`)) {
		t.Fatalf("image on the other node: %+v %s", got, got.Attachment)
	}
	if r := cl.Do("GET", "/v1/files/"+f.FileID, b.Token, nil); r.Status != 200 || !bytes.Equal(r.Body, pic) ||
		r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("member downloads the file: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	if r := cl.Do("GET", "/v1/files/"+f.FileID+"/thumbnail", b.Token, nil); r.Status != 200 || len(r.Body) == 0 {
		t.Fatalf("member downloads the thumbnail: %d", r.Status)
	}
	if r := cl.Do("GET", "/v1/files/"+f.FileID, stranger.Token, nil); r.Status != 404 {
		t.Fatalf("a stranger downloads the file: %d", r.Status)
	}
	// The same file cannot be sent twice.
	if o := frameAck(t, a0, map[string]any{"type": "send", "room_id": room, "kind": "image", "file_id": f.FileID,
		"client_msg_id": "i2"}); o.Code != protocol.CodeConflict {
		t.Fatalf("a file sent again: %+v", o)
	}

	// A reply carries a quote of what it replies to.
	reply := mustFrameAck(t, b1, map[string]any{"type": "send", "room_id": room, "body": "hi!", "reply_to": text.Seq,
		"client_msg_id": "r1"})
	if got := msgAt(t, a0, room, reply.Seq); got.Reply == nil || got.Reply.Body != "hello" || got.Reply.Seq != text.Seq {
		t.Fatalf("reply on the other node: %+v %+v", got, got.Reply)
	}
	// Changes are room events with their own seqs, in order everywhere.
	edit := mustFrameAck(t, a0, map[string]any{"type": "edit", "room_id": room, "seq": text.Seq, "body": "hello, B",
		"client_msg_id": "e1"})
	react := mustFrameAck(t, b1, map[string]any{"type": "react", "room_id": room, "seq": text.Seq, "emoji": "👍",
		"client_msg_id": "x1"})
	for _, want := range []*protocol.Message{edit, react} {
		got := msgAt(t, a0, room, want.Seq)
		if got.Kind != want.Kind || got.Target != text.Seq {
			t.Fatalf("change seen by a: %+v, want %+v", got, want)
		}
	}
	if edit.Kind != "edit" || react.Kind != "react" || react.Emoji != "👍" {
		t.Fatalf("acks of the changes: %+v %+v", edit, react)
	}

	// b goes offline; a recalls the image and edits again; b syncs.
	_ = b1.Conn.Close()
	recall := mustFrameAck(t, a0, map[string]any{"type": "recall", "room_id": room, "seq": img.Seq, "client_msg_id": "v1"})
	edit2 := mustFrameAck(t, a0, map[string]any{"type": "edit", "room_id": room, "seq": text.Seq, "body": "hello again",
		"client_msg_id": "e2"})
	b2 := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	if err := b2.Send(map[string]any{"type": "sync", "rooms": map[string]int64{room: react.Seq}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*protocol.Message{recall, edit2} {
		got := msgAt(t, b2, room, want.Seq)
		if got.Kind != want.Kind {
			t.Fatalf("synced change: %+v, want %+v", got, want)
		}
	}
	if r := cl.Do("GET", "/v1/files/"+f.FileID, b.Token, nil); r.Status != 404 {
		t.Fatalf("the recalled image's file: %d", r.Status)
	}

	// History: every message in its current state, reactions per reader.
	for _, who := range []*apitest.User{a, b} {
		h := richHistory(t, cl, who.Token, room)
		m := h[text.Seq]
		if m.Body != "hello again" || m.EditedAt == nil || len(m.Reactions) != 1 || m.Reactions[0].Count != 1 ||
			m.Reactions[0].Mine != (who == b) {
			t.Fatalf("%s sees the edited message as %+v", who.Account, m)
		}
		if im := h[img.Seq]; !im.Recalled || im.Body != "" || im.Attachment != nil {
			t.Fatalf("%s sees the recalled image as %+v", who.Account, im)
		}
		if c := h[custom.Seq]; c.Kind != "custom" || !bytes.Contains(c.Data, []byte("lng")) {
			t.Fatalf("%s sees the custom message as %+v", who.Account, c)
		}
		if r := h[reply.Seq]; r.Reply == nil || r.Reply.Seq != text.Seq || r.Reply.Body != "hello again" {
			t.Fatalf("%s sees the reply as %+v %+v", who.Account, r, r.Reply)
		}
		if e := h[edit.Seq]; e.Kind != "edit" || e.Target != text.Seq {
			t.Fatalf("%s sees the edit event as %+v", who.Account, e)
		}
	}

	// Delete for me: gone from b's history (every device told), not a's.
	b2.Drop()
	if err := b2.Send(map[string]any{"type": "hide", "room_id": room, "seqs": []int64{custom.Seq}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b2.WaitFor(wait, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeEvent && o.Event == protocol.EventMessagesHidden
	}); err != nil {
		t.Fatalf("messages_hidden: %v", err)
	}
	if _, ok := richHistory(t, cl, b.Token, room)[custom.Seq]; ok {
		t.Fatal("a hidden message is still in its hider's history")
	}
	if _, ok := richHistory(t, cl, a.Token, room)[custom.Seq]; !ok {
		t.Fatal("a message hidden by b is gone from a's history")
	}
}

// Each bad change gets its documented error and changes nothing.
func TestRichMessagesBadInput(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	a, b, c := cl.Register("ya"), cl.Register("yb"), cl.Register("yc")
	room, other := cl.Befriend(a, b), cl.Befriend(a, c)
	a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	b0 := apitest.DialWS(t, cl.Nodes[0].URL, b.Token)
	cl.Settle()
	m := mustFrameAck(t, a0, map[string]any{"type": "send", "room_id": room, "body": "mine", "client_msg_id": "m1"})
	var elsewhere *protocol.Message
	for i := range 3 { // a seq that exists in the other room only
		elsewhere = mustFrameAck(t, a0, map[string]any{"type": "send", "room_id": other, "body": "x", "client_msg_id": fmt.Sprintf("o%d", i)})
	}
	big := map[string]any{"pad": string(bytes.Repeat([]byte("x"), protocol.MaxDataBytes))}
	cases := []struct {
		name  string
		c     *apitest.WS
		frame map[string]any
		code  string
	}{
		{"reply into another room", a0, map[string]any{"type": "send", "room_id": room, "body": "r", "reply_to": elsewhere.Seq}, protocol.CodeInvalidArgument},
		{"edit someone else's", b0, map[string]any{"type": "edit", "room_id": room, "seq": m.Seq, "body": "hacked"}, protocol.CodeForbidden},
		{"recall someone else's", b0, map[string]any{"type": "recall", "room_id": room, "seq": m.Seq}, protocol.CodeForbidden},
		{"not an emoji", b0, map[string]any{"type": "react", "room_id": room, "seq": m.Seq, "emoji": "ab"}, protocol.CodeInvalidArgument},
		{"two emoji", b0, map[string]any{"type": "react", "room_id": room, "seq": m.Seq, "emoji": "👍👍"}, protocol.CodeInvalidArgument},
		{"custom too large", a0, map[string]any{"type": "send", "room_id": room, "kind": "custom", "data": big}, protocol.CodePayloadTooLarge},
		{"custom not an object", a0, map[string]any{"type": "send", "room_id": room, "kind": "custom", "data": []int{1}}, protocol.CodeInvalidArgument},
		{"system from a client", a0, map[string]any{"type": "send", "room_id": room, "kind": "system", "body": "x"}, protocol.CodeInvalidArgument},
		{"@all in a direct room", a0, map[string]any{"type": "send", "room_id": room, "body": "x", "mentions": []string{"@all"}}, protocol.CodeForbidden},
		{"edit a missing message", a0, map[string]any{"type": "edit", "room_id": room, "seq": 999, "body": "x"}, protocol.CodeNotFound},
		{"unreact without a reaction", b0, map[string]any{"type": "unreact", "room_id": room, "seq": m.Seq, "emoji": "👍"}, protocol.CodeNotFound},
	}
	for i, tc := range cases {
		tc.frame["client_msg_id"] = fmt.Sprintf("bad%d", i)
		if o := frameAck(t, tc.c, tc.frame); o.Type != protocol.TypeError || o.Code != tc.code {
			t.Errorf("%s: %+v %s, want %s", tc.name, o.Type, o.Code, tc.code)
		}
	}
	if h := richHistory(t, cl, a.Token, room); len(h) != 1 || h[m.Seq].Body != "mine" || h[m.Seq].EditedAt != nil {
		t.Fatalf("history after the refused changes: %+v", h)
	}
	// Uploads: a disguised executable and an oversize declared image.
	elf := append([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, make([]byte, 120)...)
	if r := upload(t, cl, a.Token, room, "cat.png", elf); r.Status != 400 || r.ErrCode() != protocol.CodeInvalidArgument {
		t.Errorf("an ELF named .png: %d %s", r.Status, r.Body)
	}
	if r := upload(t, cl, c.Token, room, "x.png", testPNG(t, 4, 4)); r.Status != 403 {
		t.Errorf("an upload to a room of others: %d %s", r.Status, r.Body)
	}
}

// Concurrent reactions of 50 users on one message give exact counts.
func TestConcurrentReactionsAreExact(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	owner := cl.Register("zo")
	users := make([]*apitest.User, 50)
	// The setup is not what is measured: a few at a time, so that it does
	// not overload the embedded store on a busy machine (its helpers fail
	// the test on a 503 rather than retry a non-idempotent step).
	var wg sync.WaitGroup
	setup := make(chan struct{}, 4)
	each := func(f func()) {
		setup <- struct{}{}
		wg.Go(func() { defer func() { <-setup }(); f() })
	}
	for i := range users {
		each(func() { users[i] = cl.Register("zu") })
	}
	wg.Wait()
	accounts := make([]string, len(users))
	for i, u := range users {
		accounts[i] = u.Account
		each(func() { cl.Befriend(owner, u) })
	}
	wg.Wait()
	g := struct{ ID string }{newGroupRoom(t, cl, owner, "reactions", accounts)}
	r := cl.Do("POST", "/v1/rooms/"+g.ID+"/messages", owner.Token, map[string]any{"body": "react to me", "client_msg_id": "m"})
	if r.Status != 201 {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	var m protocol.Message
	r.JSON(t, &m)
	errs := make(chan string, len(users))
	for i, u := range users {
		wg.Go(func() {
			path := fmt.Sprintf("/v1/rooms/%s/messages/%d/reactions/%s?client_msg_id=r%d", g.ID, m.Seq, "%F0%9F%8E%89", i)
			// Like a client: unavailable and rate_limited are retried with
			// the same client_msg_id, backing off (at least the
			// Retry-After, with jitter), until a bounded deadline.
			deadline := time.Now().Add(2 * time.Minute)
			for try := 0; ; try++ {
				r := cl.Do("PUT", path, u.Token, nil)
				if r.Status == 201 || r.Status == 200 {
					return
				}
				if time.Now().After(deadline) || (r.Status != 503 && r.Status != 429) {
					errs <- fmt.Sprintf("%s: %d %s", u.Account, r.Status, r.Body)
					return
				}
				time.Sleep(retryBackoff(try, r.Header.Get("Retry-After")))
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	h := richHistory(t, cl, users[0].Token, g.ID)
	if rs := h[m.Seq].Reactions; len(rs) != 1 || rs[0].Emoji != "🎉" || rs[0].Count != 50 || !rs[0].Mine {
		t.Fatalf("reactions: %+v", rs)
	}
	var page struct {
		Reactors []struct {
			UserID string `json:"user_id"`
		}
		HasMore bool `json:"has_more"`
	}
	r = cl.Do("GET", fmt.Sprintf("/v1/rooms/%s/messages/%d/reactions/%%F0%%9F%%8E%%89?limit=30", g.ID, m.Seq), owner.Token, nil)
	r.JSON(t, &page)
	if len(page.Reactors) != 30 || !page.HasMore {
		t.Fatalf("reactors page: %d %+v", r.Status, page)
	}
}

// Membership changes of a group are told in the room by system messages,
// live and in history.
func TestSystemMessagesOnMembershipChanges(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	owner, m1, m2 := cl.Register("wo"), cl.Register("wa"), cl.Register("wb")
	cl.Befriend(owner, m1)
	cl.Befriend(owner, m2)
	room := newGroupRoom(t, cl, owner, "sys", []string{m1.Account})
	c1 := apitest.DialWS(t, cl.Nodes[0].URL, m1.Token)
	cl.Settle()
	if r := cl.Do("POST", "/v1/groups/"+room+"/members", owner.Token, map[string]any{"accounts": []string{m2.Account}}); r.Status != 200 {
		t.Fatalf("add: %d %s", r.Status, r.Body)
	}
	o, err := c1.WaitFor(wait, isMsg(room))
	if err != nil || o.Message.Kind != "system" || !bytes.Contains(o.Message.Data, []byte(`"members_added"`)) ||
		!bytes.Contains(o.Message.Data, []byte(m2.ID)) || o.Message.From != owner.ID {
		t.Fatalf("live system message: %+v %v", o.Message, err)
	}
	if r := cl.Do("DELETE", "/v1/groups/"+room+"/members/"+m2.Account, m2.Token, nil); r.Status != 204 {
		t.Fatalf("leave: %d %s", r.Status, r.Body)
	}
	h := richHistory(t, cl, m1.Token, room)
	var events []string
	for seq := int64(1); seq <= int64(len(h)); seq++ {
		var d struct{ Event string }
		_ = json.Unmarshal(h[seq].Data, &d)
		events = append(events, h[seq].Kind+":"+d.Event)
	}
	if fmt.Sprint(events) != "[system:members_added system:member_left]" {
		t.Fatalf("history: %v", events)
	}
}

// A send that reuses the client_msg_id of a change is refused (and the
// other way round), and @all does not flag its own sender.
func TestClientMsgIDAcrossSendsAndChanges(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	owner, m1 := cl.Register("qa"), cl.Register("qb")
	cl.Befriend(owner, m1)
	room := newGroupRoom(t, cl, owner, "ids", []string{m1.Account})
	c := apitest.DialWS(t, cl.Nodes[0].URL, owner.Token)
	cl.Settle()
	m := mustFrameAck(t, c, map[string]any{"type": "send", "room_id": room, "body": "all of you", "mentions": []string{"@all"},
		"client_msg_id": "s1", "reply_to": 0})
	mustFrameAck(t, c, map[string]any{"type": "react", "room_id": room, "seq": m.Seq, "emoji": "👍", "client_msg_id": "x1"})
	if o := frameAck(t, c, map[string]any{"type": "send", "room_id": room, "body": "again", "client_msg_id": "x1"}); o.Code != protocol.CodeConflict {
		t.Fatalf("a send with a change's client_msg_id: %+v %s", o.Type, o.Code)
	}
	if o := frameAck(t, c, map[string]any{"type": "edit", "room_id": room, "seq": m.Seq, "body": "e", "client_msg_id": "s1"}); o.Code != protocol.CodeConflict {
		t.Fatalf("an edit with a send's client_msg_id: %+v %s", o.Type, o.Code)
	}
	var convs struct {
		Conversations []struct {
			RoomID    string `json:"room_id"`
			Mentioned bool   `json:"mentioned"`
		} `json:"conversations"`
	}
	for _, u := range []*apitest.User{owner, m1} {
		cl.Do("GET", "/v1/conversations", u.Token, nil).JSON(t, &convs)
		for _, cv := range convs.Conversations {
			if cv.RoomID == room && cv.Mentioned != (u == m1) {
				t.Errorf("%s: mentioned %v", u.Account, cv.Mentioned)
			}
		}
	}
}

// newGroupRoom creates a group of owner's friends and returns its room id.
func newGroupRoom(t *testing.T, cl *apitest.Cluster, owner *apitest.User, name string, members []string) string {
	t.Helper()
	r := cl.Do("POST", "/v1/groups", owner.Token, map[string]any{"name": name, "members": members})
	if r.Status != 201 {
		t.Fatalf("group: %d %s", r.Status, r.Body)
	}
	var created struct {
		Group struct {
			ID string `json:"id"`
		} `json:"group"`
	}
	r.JSON(t, &created)
	return created.Group.ID
}

// retryBackoff is how long a client waits before its next try: doubling
// from 50 ms to 800 ms, at least the server's Retry-After (seconds), plus
// up to half again at random so that refused clients do not come back
// together.
func retryBackoff(try int, retryAfter string) time.Duration {
	d := time.Duration(50<<min(try, 4)) * time.Millisecond
	if s, err := strconv.Atoi(retryAfter); err == nil {
		d = max(d, time.Duration(s)*time.Second)
	}
	return d + rand.N(d/2+1)
}
