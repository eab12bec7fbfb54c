package faulttest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// gatewayBinary is ./cmd/gateway, built once.
func gatewayBinary(t testing.TB) string { return testenv.Binary(t, "gateway") }

// GatewayProc is a gateway running as a separate process.
type GatewayProc struct {
	Name      string
	WSURL     string
	AdminURL  string
	env       []string
	bin, logf string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd's Wait returned
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartGateway runs a gateway process with env (IM_* settings) added.
func StartGateway(t testing.TB, name string, env map[string]string) *GatewayProc {
	t.Helper()
	ws, admin := freeAddr(t), freeAddr(t)
	g := &GatewayProc{Name: name, WSURL: "ws://" + ws + "/ws", AdminURL: "http://" + admin,
		bin: gatewayBinary(t), logf: filepath.Join(t.TempDir(), name+".log")}
	g.env = append(os.Environ(), "IM_WS_ADDR="+ws, "IM_ADMIN_ADDR="+admin, "IM_NODE_ID="+name, "IM_LOG_LEVEL=warn")
	for k, v := range env {
		g.env = append(g.env, k+"="+v)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Kill() })
	return g
}

// Start launches the process and waits until /readyz answers 200.
func (g *GatewayProc) Start() error {
	lf, err := os.OpenFile(g.logf, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(g.bin)
	cmd.Env = g.env
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); lf.Close(); close(done) }()
	g.mu.Lock()
	g.cmd, g.done = cmd, done
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if res, err := http.Get(g.AdminURL + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready in 30s; log:\n%s", g.Name, g.Log())
}

// Kill sends SIGKILL and waits for the process to go.
func (g *GatewayProc) Kill() {
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.cmd = nil
	g.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		select { // Wait's goroutine reaps it (reading ProcessState here would race)
		case <-done:
		case <-time.After(time.Second):
		}
	}
}

// Log returns what the process wrote.
func (g *GatewayProc) Log() string {
	b, _ := os.ReadFile(g.logf)
	return string(b)
}

// Metric reads one unlabelled metric from /metrics.
func (g *GatewayProc) Metric(name string) (float64, error) {
	res, err := http.Get(g.AdminURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			return strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, name)), 64)
		}
		// name may carry labels: name{reason="x"}
		if strings.Contains(name, "{") && strings.HasPrefix(line, name) {
			return strconv.ParseFloat(strings.TrimSpace(line[strings.LastIndexByte(line, ' '):]), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}
