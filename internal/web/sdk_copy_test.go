package web_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// The web client runs the TypeScript SDK from its own copy of the compiled
// files (static/js/sdk, embedded and served like the rest): `make sdk-js`
// writes it from sdk/js/dist. A copy that differs from dist (an SDK change
// built but not copied, or a hand edit of the copy) fails here.
func TestSDKCopyMatchesDist(t *testing.T) {
	dist := filepath.Join("..", "..", "sdk", "js", "dist")
	copyDir := filepath.Join("static", "js", "sdk")
	want := jsFiles(t, dist)
	got := jsFiles(t, copyDir)
	if len(want) == 0 {
		t.Fatalf("no .js files in %s: build the SDK (make sdk-js)", dist)
	}
	if !equalNames(want, got) {
		t.Fatalf("%s has %v, %s has %v: run make sdk-js and commit the copy", copyDir, got, dist, want)
	}
	for _, name := range want {
		a, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(copyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: run make sdk-js and commit the copy", filepath.Join(copyDir, name), filepath.Join(dist, name))
		}
	}
}

func jsFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.js"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(m))
	for _, p := range m {
		names = append(names, filepath.Base(p))
	}
	sort.Strings(names)
	return names
}

func equalNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
