package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
)

func TestWritesLoadableKey(t *testing.T) {
	dir := t.TempDir()
	out, pub := filepath.Join(dir, "jwt.pem"), filepath.Join(dir, "jwt.pub.pem")
	if err := run([]string{"-out", out, "-pub", pub}, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	s, err := auth.LoadSigner(out)
	if err != nil {
		t.Fatal(err)
	}
	k, err := auth.LoadPublicKeyFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k[s.KeyID()]; !ok {
		t.Fatal("public key file does not hold the signer's key")
	}
	before, _ := os.ReadFile(out)

	// Existing file: an error without -if-missing, kept with it.
	if err := run([]string{"-out", out}, io.Discard); err == nil {
		t.Fatal("overwrote an existing key")
	}
	var msg strings.Builder
	if err := run([]string{"-out", out, "-if-missing"}, &msg); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(out)
	if string(before) != string(after) || !strings.Contains(msg.String(), "kept") {
		t.Fatalf("-if-missing changed the key (%q)", msg.String())
	}
	if err := run(nil, io.Discard); err == nil {
		t.Fatal("no -out accepted")
	}
}

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := run([]string{"-probe", srv.URL + "/readyz"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-probe", srv.URL + "/other"}, io.Discard); err == nil {
		t.Fatal("503 probed as healthy")
	}
	srv.Close()
	if err := run([]string{"-probe", srv.URL + "/readyz", "-timeout", "1s"}, io.Discard); err == nil {
		t.Fatal("closed server probed as healthy")
	}
}
