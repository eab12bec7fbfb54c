package standalone_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// buildStandalone builds ./cmd/standalone as a release would.
func buildStandalone(t *testing.T) string { return testenv.Binary(t, "standalone") }

// runStandalone starts the binary on dataDir and waits until it answers.
func runStandalone(t *testing.T, bin, dataDir, smtpAddr string) (*exec.Cmd, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "IM_DATA_DIR="+dataDir, "IM_HTTP_ADDR="+addr,
		"IM_SMTP_ADDR="+smtpAddr, "IM_SMTP_TLS=none", "IM_LOG_LEVEL=warn")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("standalone output:\n%s", logs.String())
		}
	})
	url := "http://" + addr
	for end := time.Now().Add(60 * time.Second); ; {
		if res, err := http.Get(url + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return cmd, url
			}
		}
		if time.Now().After(end) {
			t.Fatalf("standalone did not answer in 60s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Every message the server acked is in its history after the process is
// killed with SIGKILL right after the last ack and started again: an ack
// is sent only once the message is committed to SQLite.
func TestAckedMessagesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/standalone")
	}
	bin := buildStandalone(t)
	sink := testenv.NewSMTPSink(t)
	dir := t.TempDir()
	cmd, url := runStandalone(t, bin, dir, sink.Addr)
	e := &apitest.Env{T: t, URL: url, SMTP: sink}
	a, b := e.Register("k9"), e.Register("k9")
	room := e.Befriend(a, b)
	c := apitest.DialWS(t, wsURL(url), a.Token)
	var acked []string
	for i := 0; i < 150; i++ {
		id := fmt.Sprint("k", i)
		if _, _, err := c.SendReliably(room, id, id, 10, wait); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, id)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, e.URL = runStandalone(t, bin, dir, sink.Addr)
	if got := historyIDs(t, e, b.Token, room); fmt.Sprint(got) != fmt.Sprint(acked) {
		t.Fatalf("after kill -9: history has %d messages, %d were acked:\n%v", len(got), len(acked), got)
	}
}
