package config

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestAdminKeys(t *testing.T) {
	load := func(v string) (Config, error) {
		return Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string {
			if k == "IM_ADMIN_KEYS" {
				return v
			}
			return ""
		})
	}
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 40)
	c, err := load(" " + a + " ,," + b + ",")
	if err != nil || !slices.Equal(c.AdminKeys, []string{a, b}) {
		t.Fatalf("keys %q, %v", c.AdminKeys, err)
	}
	if c, err := load(""); err != nil || len(c.AdminKeys) != 0 {
		t.Fatalf("unset: %q, %v", c.AdminKeys, err)
	}
	short := "short-secret-key"
	_, err = load(a + "," + short)
	if err == nil {
		t.Fatal("a key of 16 characters was accepted")
	}
	if strings.Contains(err.Error(), short) || !strings.Contains(err.Error(), "key 2") {
		t.Fatalf("error %q: names the key or not its position", err)
	}
}
