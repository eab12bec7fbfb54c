package securitytest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// clientFrameTypes reads the client frame types the server accepts from
// the switch in (*protocol.Inbound).validate, so that a new frame type
// without a row in wsTable fails TestWebSocketAuthorizationTable.
func clientFrameTypes(t *testing.T) []string {
	known := map[string]string{
		"TypeSend": protocol.TypeSend, "TypeSync": protocol.TypeSync, "TypeRead": protocol.TypeRead,
		"TypePing": protocol.TypePing, "TypeRefresh": protocol.TypeRefresh,
		"TypeEdit": protocol.TypeEdit, "TypeRecall": protocol.TypeRecall, "TypeReact": protocol.TypeReact,
		"TypeUnreact": protocol.TypeUnreact, "TypeHide": protocol.TypeHide, "TypeTyping": protocol.TypeTyping,
	}
	f, err := parser.ParseFile(token.NewFileSet(), "../../pkg/protocol/protocol.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "validate" || fn.Recv == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			for _, e := range cc.List {
				id, ok := e.(*ast.Ident)
				if !ok || !strings.HasPrefix(id.Name, "Type") {
					continue
				}
				v, ok := known[id.Name]
				if !ok {
					t.Errorf("client frame type %s has no row in the WebSocket authorization table (wsTable in authz_ws_test.go)", id.Name)
					continue
				}
				out = append(out, v)
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatal("no client frame types found in pkg/protocol/protocol.go")
	}
	return out
}

// wsCase is one row of the WebSocket authorization table: a client frame
// and the answers expected for stranger, member and owner (anonymous never
// gets past the upgrade). An answer is "ack", "synced", "pong" or
// "error <code>"; "" is no answer at all.
type wsCase struct {
	typ, name string
	frame     func(w *world, role int, cmid string) any
	room      func(w *world) string // the room the frame is about, if any
	want      [3]string             // stranger, member, owner
	// prep, when set, makes the message the row changes (w.target).
	prep func(w *world) int64
}

func wsTable() []wsCase {
	direct := func(w *world) string { return w.direct }
	group := func(w *world) string { return w.group }
	send := func(room func(*world) string) func(*world, int, string) any {
		return func(w *world, _ int, cmid string) any {
			return map[string]string{"type": "send", "room_id": room(w), "body": "ws hello", "client_msg_id": cmid}
		}
	}
	sync := func(room func(*world) string) func(*world, int, string) any {
		return func(w *world, _ int, _ string) any {
			return map[string]any{"type": "sync", "rooms": map[string]int64{room(w): 0}}
		}
	}
	read := func(room func(*world) string) func(*world, int, string) any {
		return func(w *world, _ int, _ string) any {
			return map[string]any{"type": "read", "room_id": room(w), "seq": 1}
		}
	}
	// change is a change frame of type typ on w.target in room.
	change := func(typ string, room func(*world) string) func(*world, int, string) any {
		return func(w *world, role int, cmid string) any {
			f := map[string]any{"type": typ, "room_id": room(w), "seq": w.target, "client_msg_id": cmid}
			switch typ {
			case protocol.TypeEdit:
				f["body"] = "edited by " + roleNames[role]
			case protocol.TypeReact, protocol.TypeUnreact:
				f["emoji"] = "👍"
			}
			return f
		}
	}
	// message makes a message of from in room, with the reactions (👍) of
	// the users reactors.
	message := func(room func(*world) string, from func(*world) *apitest.User, reactors ...int) func(*world) int64 {
		return func(w *world) int64 {
			seq := w.newMessage(room(w), from(w))
			for _, r := range reactors {
				w.react(room(w), seq, w.user(r))
			}
			return seq
		}
	}
	byOwner := func(w *world) *apitest.User { return w.owner }
	byThird := func(w *world) *apitest.User { return w.third }
	hide := func(room func(*world) string) func(*world, int, string) any {
		return func(w *world, _ int, _ string) any {
			return map[string]any{"type": "hide", "room_id": room(w), "seqs": []int64{1}}
		}
	}
	typing := func(room func(*world) string) func(*world, int, string) any {
		return func(w *world, _ int, _ string) any {
			return map[string]any{"type": "typing", "room_id": room(w), "on": true}
		}
	}
	refused, ownerOnly, members := "error forbidden", [3]string{"error forbidden", "error forbidden", "ack"}, [3]string{"error forbidden", "ack", "ack"}
	return []wsCase{
		{typ: "edit", name: "direct room", frame: change("edit", direct), room: direct, prep: message(direct, byOwner), want: ownerOnly},
		{typ: "edit", name: "group", frame: change("edit", group), room: group, prep: message(group, byOwner), want: ownerOnly},
		{typ: "recall", name: "own message", frame: change("recall", direct), room: direct, prep: message(direct, byOwner), want: ownerOnly},
		{typ: "recall", name: "group owner, another's message", frame: change("recall", group), room: group, prep: message(group, byThird), want: ownerOnly},
		{typ: "react", name: "direct room", frame: change("react", direct), room: direct, prep: message(direct, byOwner), want: members},
		{typ: "react", name: "group", frame: change("react", group), room: group, prep: message(group, byThird), want: members},
		{typ: "unreact", name: "own reaction", frame: change("unreact", group), room: group, prep: message(group, byOwner, member, owner), want: members},
		{typ: "hide", name: "direct room", frame: hide(direct), room: direct, want: [3]string{refused, "", ""}},
		{typ: "hide", name: "group", frame: hide(group), room: group, want: [3]string{refused, "", ""}},
		{typ: "typing", name: "direct room", frame: typing(direct), room: direct, want: [3]string{refused, "", ""}},
		{typ: "typing", name: "group", frame: typing(group), room: group, want: [3]string{refused, "", ""}},
		{typ: "send", name: "direct room", frame: send(direct), room: direct, want: [3]string{"error forbidden", "ack", "ack"}},
		{typ: "send", name: "group", frame: send(group), room: group, want: [3]string{"error forbidden", "ack", "ack"}},
		{typ: "sync", name: "direct room", frame: sync(direct), room: direct, want: [3]string{"error forbidden", "synced", "synced"}},
		{typ: "sync", name: "group", frame: sync(group), room: group, want: [3]string{"error forbidden", "synced", "synced"}},
		{typ: "read", name: "direct room", frame: read(direct), room: direct, want: [3]string{"error forbidden", "", ""}},
		{typ: "read", name: "group", frame: read(group), room: group, want: [3]string{"error forbidden", "", ""}},
		{typ: "ping", frame: func(*world, int, string) any { return map[string]string{"type": "ping"} }, want: [3]string{"pong", "pong", "pong"}},
		{typ: "refresh", name: "own new token", want: [3]string{"", "", ""},
			frame: func(w *world, role int, _ string) any {
				tok, _, err := w.e.Core.Issuer.Issue(w.user(role).ID)
				if err != nil {
					w.t.Fatal(err)
				}
				return map[string]string{"type": "refresh", "access_token": tok}
			}},
		{typ: "refresh", name: "another user's token", want: [3]string{"error unauthenticated", "error unauthenticated", "error unauthenticated"},
			frame: func(w *world, role int, _ string) any {
				return map[string]string{"type": "refresh", "access_token": w.third.Token}
			}},
	}
}

// answers sends frame and then a marker frame (an unknown type, answered
// by an error naming it); frames are handled in order on a connection,
// so everything the server answered to frame arrives before the marker's
// error. Live message and event frames are left out.
func answers(t *testing.T, c *apitest.WS, frame any, n int) []protocol.Outbound {
	t.Helper()
	marker := fmt.Sprintf("marker%d", n)
	if err := c.Send(frame); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(map[string]string{"type": marker}); err != nil {
		t.Fatal(err)
	}
	var out []protocol.Outbound
	for i := 0; i < 1000; i++ {
		o, err := c.WaitFor(wait, func(o protocol.Outbound) bool {
			return o.Type != protocol.TypeMessage && o.Type != protocol.TypeEvent
		})
		if err != nil {
			t.Fatalf("no answer to the marker after %+v: %v", out, err)
		}
		if o.Type == protocol.TypeError && strings.Contains(o.ErrMessage, marker) {
			return out
		}
		out = append(out, o)
	}
	t.Fatal("too many answers")
	return nil
}

func summary(o protocol.Outbound) string {
	if o.Type == protocol.TypeError {
		return "error " + o.Code
	}
	return o.Type
}

// TestWebSocketAuthorizationTable runs every client frame type (taken from
// the protocol decoder: a new type without a row fails) as stranger,
// member and owner, and checks anonymous callers never get a connection.
func TestWebSocketAuthorizationTable(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	w := newWorld(t, cl.Env)
	node := cl.Nodes[0].URL
	table := wsTable()

	covered := map[string]bool{}
	for _, c := range table {
		covered[c.typ] = true
	}
	for _, typ := range clientFrameTypes(t) {
		if !covered[typ] {
			t.Errorf("client frame type %q has no row in wsTable", typ)
		}
	}

	// Anonymous: no connection, whatever frame it would have sent.
	expectError(t, "anonymous upgrade", upgrade(t, node, "", nil), 401, protocol.CodeUnauthenticated)
	expectError(t, "anonymous upgrade, empty access_token", upgrade(t, node+"?access_token=", "", nil), 401, protocol.CodeUnauthenticated)

	conns := map[int]*apitest.WS{}
	for _, role := range []int{stranger, member, owner} {
		conns[role] = apitest.DialWS(t, node, w.token(role))
		if conns[role].Hello.UserID != w.user(role).ID {
			t.Fatalf("hello for %s: %+v", roleNames[role], conns[role].Hello)
		}
	}
	n := 0
	for _, c := range table {
		name := c.typ
		if c.name != "" {
			name += " (" + c.name + ")"
		}
		t.Run(name, func(t *testing.T) {
			if c.prep != nil {
				w.target = c.prep(w)
			}
			for _, role := range []int{stranger, member, owner} {
				n++
				cmid := fmt.Sprintf("authz-%d-%s", n, randomHex(3))
				got := answers(t, conns[role], c.frame(w, role, cmid), n)
				want := c.want[role-stranger]
				var sum []string
				for _, o := range got {
					sum = append(sum, summary(o))
				}
				if strings.Join(sum, ",") != want {
					t.Errorf("%s as %s: answers %v %+v, want %q", c.typ, roleNames[role], sum, got, want)
					continue
				}
				stores := c.typ == protocol.TypeSend || c.prep != nil // answered ack or error with the client_msg_id
				for _, o := range got {
					switch {
					case stores && o.ClientMsgID != cmid:
						t.Errorf("%s as %s: answer without the client_msg_id: %+v", c.typ, roleNames[role], o)
					case stores && o.Type == protocol.TypeAck &&
						(o.Message == nil || o.Message.From != w.user(role).ID || o.Message.RoomID != c.room(w)):
						t.Errorf("%s as %s: ack %+v", c.typ, roleNames[role], o)
					case c.prep != nil && o.Type == protocol.TypeAck && (o.Message.Kind != c.typ || o.Message.Target != w.target):
						t.Errorf("%s as %s: ack of another change %+v", c.typ, roleNames[role], o.Message)
					case (c.typ == protocol.TypeSync || c.typ == protocol.TypeRead || c.typ == protocol.TypeHide ||
						c.typ == protocol.TypeTyping) && o.RoomID != c.room(w):
						t.Errorf("%s as %s: answer without room_id %s: %+v", c.typ, roleNames[role], c.room(w), o)
					}
				}
			}
		})
	}
	// The stranger's connection never saw a message of the rooms.
	for {
		o, err := conns[stranger].Next(300 * time.Millisecond)
		if err != nil {
			break
		}
		if o.Type == protocol.TypeMessage || o.Type == protocol.TypeEvent && o.Event == protocol.EventTyping {
			t.Errorf("stranger received %+v", o)
		}
	}
}
