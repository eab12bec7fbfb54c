package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
)

var sendFrame = []byte(`{"type":"send","room_id":"01J9ZQ3N7ZK3M8R2T4W6Y8A0BC","body":"hello there, how are you doing today?","client_msg_id":"web-1732546800000-42"}`)

func BenchmarkDecodeSend(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(sendFrame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSendTwoPass is the earlier decoder (json.Valid, then a
// strict Decoder), kept as the baseline BENCHMARKS.md compares against.
func BenchmarkDecodeSendTwoPass(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !json.Valid(sendFrame) {
			b.Fatal("invalid")
		}
		var in Inbound
		dec := json.NewDecoder(bytes.NewReader(sendFrame))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			b.Fatal(err)
		}
		if err := in.validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMessage(b *testing.B) {
	m := Message{ID: "01J9ZQ3N7ZK3M8R2T4W6Y8A0BD", RoomID: "01J9ZQ3N7ZK3M8R2T4W6Y8A0BC", Seq: 42,
		From: "01J9ZQ3N7ZK3M8R2T4W6Y8A0BE", Body: "hello there", ClientMsgID: "c-1"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = EncodeMessage(m)
	}
}
