package storeutil

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	ms, err := ReadMigrations(fstest.MapFS{
		"m/0002_more.sql": file("B"),
		"m/0001_init.sql": file("A"),
		"m/README.md":     file("not a script"),
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0] != (Migration{1, "0001_init.sql", "A"}) || ms[1] != (Migration{2, "0002_more.sql", "B"}) {
		t.Fatalf("got %+v", ms)
	}
	if v := LatestVersion(ms, nil); v != 2 {
		t.Errorf("LatestVersion %d, want 2", v)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"a gap":      {"m/0001_a.sql": file(""), "m/0003_c.sql": file("")},
		"no number":  {"m/init.sql": file("")},
		"zero":       {"m/0000_a.sql": file("")},
		"a repeat":   {"m/0001_a.sql": file(""), "m/0001_b.sql": file("")},
		"not from 1": {"m/0002_b.sql": file("")},
	} {
		if _, err := ReadMigrations(fsys, "m"); err == nil || !strings.Contains(err.Error(), "migration ") {
			t.Errorf("%s: error %v, want one naming the script", name, err)
		}
	}
	if v := LatestVersion(ReadMigrations(fstest.MapFS{}, "missing")); v != 0 {
		t.Errorf("LatestVersion of no folder: %d, want 0", v)
	}
}
