package bench

import (
	"bytes"
	"strconv"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Server frames are parsed on the hot path without encoding/json: the load
// tool reads hundreds of thousands of them a second on the same cores as
// the gateways. parseFrame picks the few fields it needs by key; anything
// it is not sure about (an escaped string, a missing field) makes it
// return false and the caller falls back to protocol.DecodeOutbound. A key
// pattern such as "seq": cannot occur inside a JSON string value, whose
// quotes are escaped, so searching for it is safe.

type frameKind uint8

const (
	kindOther frameKind = iota
	kindHello
	kindAck
	kindMessage
	kindSynced
	kindError
	kindPong
	kindEvent
	kindReconnect
)

// frame is a parsed server frame; its byte slices alias the payload.
type frame struct {
	kind    frameKind
	seq     int64 // ack, message: message seq; synced: last_seq
	more    bool  // synced
	room    []byte
	cmid    []byte
	body    []byte
	from    []byte
	code    []byte // error
	errText string
	retry   time.Duration // error: retry_after_ms
}

var kinds = map[string]frameKind{
	protocol.TypeHello: kindHello, protocol.TypeAck: kindAck, protocol.TypeMessage: kindMessage,
	protocol.TypeSynced: kindSynced, protocol.TypeError: kindError, protocol.TypePong: kindPong,
	protocol.TypeEvent: kindEvent, protocol.TypeReconnect: kindReconnect,
}

// parseFrame fills f from b; false means "use the slow path".
func parseFrame(b []byte, f *frame) bool {
	*f = frame{}
	typ, ok := strField(b, `"type":"`)
	if !ok {
		return false
	}
	switch string(typ) { // no allocation: the compiler special-cases this
	case protocol.TypeMessage, protocol.TypeAck:
		if string(typ) == protocol.TypeAck {
			f.kind = kindAck
		} else {
			f.kind = kindMessage
		}
		i := bytes.Index(b, []byte(`"message":{`))
		if i < 0 {
			return false
		}
		m := b[i+len(`"message":`):]
		// The encoder's field order makes each key follow the previous
		// one; a different order still parses, from the start.
		var sc scanner
		sc.b = m
		var ok1, ok2, ok3, ok4, ok5 bool
		f.room, ok2 = sc.str(`"room_id":"`)
		f.seq, ok1 = sc.int(`"seq":`)
		f.from, ok5 = sc.str(`"from":"`)
		f.body, ok4 = sc.str(`"body":"`)
		f.cmid, ok3 = sc.str(`"client_msg_id":"`)
		return ok1 && ok2 && ok3 && ok4 && ok5
	case protocol.TypeSynced:
		f.kind = kindSynced
		var ok1, ok2 bool
		f.room, ok1 = strField(b, `"room_id":"`)
		f.seq, ok2 = intField(b, `"last_seq":`)
		f.more = bytes.Contains(b, []byte(`"more":true`))
		return ok1 && ok2
	case protocol.TypeHello:
		f.kind = kindHello
		return true
	case protocol.TypePong:
		f.kind = kindPong
		return true
	case protocol.TypeError:
		return false // rare: the slow path fills code and text
	default:
		f.kind = kinds[string(typ)]
		return true
	}
}

// slowFrame parses b with the protocol package's decoder.
func slowFrame(b []byte, f *frame) error {
	*f = frame{}
	o, err := protocol.DecodeOutbound(b)
	if err != nil {
		return err
	}
	f.kind = kinds[o.Type]
	f.cmid = []byte(o.ClientMsgID)
	f.code = []byte(o.Code)
	f.errText = o.ErrMessage
	f.retry = time.Duration(o.RetryAfterMS) * time.Millisecond
	f.room = []byte(o.RoomID)
	f.seq = o.LastSeq
	f.more = o.More
	if m := o.Message; m != nil {
		f.seq = m.Seq
		f.room = []byte(m.RoomID)
		f.cmid = []byte(m.ClientMsgID)
		f.body = []byte(m.Body)
		f.from = []byte(m.From)
	}
	return nil
}

// scanner finds keys in order, starting after the previous one.
type scanner struct {
	b   []byte
	pos int
}

func (s *scanner) find(key string) int {
	if i := bytes.Index(s.b[s.pos:], []byte(key)); i >= 0 {
		return s.pos + i + len(key)
	}
	if i := bytes.Index(s.b[:s.pos], []byte(key)); i >= 0 {
		return i + len(key)
	}
	return -1
}

func (s *scanner) str(key string) ([]byte, bool) {
	i := s.find(key)
	if i < 0 {
		return nil, false
	}
	v := s.b[i:]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil, false
	}
	s.pos = i + j + 1
	return v[:j], true
}

func (s *scanner) int(key string) (int64, bool) {
	i := s.find(key)
	if i < 0 {
		return 0, false
	}
	v := s.b[i:]
	var n int64
	j := 0
	for ; j < len(v) && j < 19 && v[j] >= '0' && v[j] <= '9'; j++ {
		n = n*10 + int64(v[j]-'0')
	}
	s.pos = i + j
	return n, j > 0
}

// strField returns the string value after key (which ends with the
// opening quote); false when absent or escaped.
func strField(b []byte, key string) ([]byte, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	v := b[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil, false
	}
	return v[:j], true
}

// intField returns the non-negative integer after key.
func intField(b []byte, key string) (int64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	v := b[i+len(key):]
	var n int64
	j := 0
	for ; j < len(v) && j < 19 && v[j] >= '0' && v[j] <= '9'; j++ {
		n = n*10 + int64(v[j]-'0')
	}
	return n, j > 0
}

// Message bodies the tool sends: "<cmid>|<step>|<unix nanos>|<padding>".
// The client_msg_id is "<run>.<conn index>.<counter>".

func appendBody(b []byte, cmid []byte, step int, at int64, size int) []byte {
	start := len(b)
	b = append(b, cmid...)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(step), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, at, 10)
	b = append(b, '|')
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return b
}

// parseBody returns the client_msg_id, step and send time in a body.
func parseBody(body []byte) (cmid []byte, step int, at int64, ok bool) {
	i := bytes.IndexByte(body, '|')
	if i < 0 {
		return nil, 0, 0, false
	}
	cmid, rest := body[:i], body[i+1:]
	j := bytes.IndexByte(rest, '|')
	if j < 0 {
		return nil, 0, 0, false
	}
	s, err := strconv.Atoi(string(rest[:j]))
	if err != nil {
		return nil, 0, 0, false
	}
	rest = rest[j+1:]
	k := bytes.IndexByte(rest, '|')
	if k < 0 {
		return nil, 0, 0, false
	}
	t, err := strconv.ParseInt(string(rest[:k]), 10, 64)
	if err != nil {
		return nil, 0, 0, false
	}
	return cmid, s, t, true
}

// cmidConn returns the connection index inside a client_msg_id of this run.
func cmidConn(cmid []byte, run string) (int, bool) {
	if len(cmid) <= len(run)+1 || string(cmid[:len(run)]) != run || cmid[len(run)] != '.' {
		return 0, false
	}
	rest := cmid[len(run)+1:]
	i := bytes.IndexByte(rest, '.')
	if i <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(rest[:i]))
	return n, err == nil
}

// appendSend appends a send frame. Bodies and ids the tool makes need no
// JSON escaping.
func appendSend(b, room, body, cmid []byte) []byte {
	b = append(b, `{"type":"send","room_id":"`...)
	b = append(b, room...)
	b = append(b, `","body":"`...)
	b = append(b, body...)
	b = append(b, `","client_msg_id":"`...)
	b = append(b, cmid...)
	return append(b, `"}`...)
}
