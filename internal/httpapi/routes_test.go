package httpapi_test

import (
	"bufio"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
)

// specRoutes reads "METHOD /path" pairs from api/openapi.yaml: paths are
// keys indented by two spaces under "paths:", methods keys indented by four.
func specRoutes(t *testing.T) []string {
	f, err := os.Open("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	inPaths, path := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inPaths = false
		case inPaths && strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case inPaths && path != "" && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     "):
			m := strings.TrimSuffix(strings.TrimSpace(line), ":")
			switch m {
			case "get", "post", "put", "patch", "delete":
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestRouterMatchesOpenAPI(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	var got []string
	err := chi.Walk(e.API.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/")
		if route == "" {
			route = "/"
		}
		if strings.Contains(route, "*") || route == "/" || strings.HasPrefix(route, "/assets") || route == "/ws" {
			return nil // the web client and mounts are not part of the REST spec
		}
		got = append(got, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := specRoutes(t)
	if len(want) == 0 {
		t.Fatal("no routes parsed from api/openapi.yaml")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("router and api/openapi.yaml differ:\nrouter:\n  %s\nspec:\n  %s",
			strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
