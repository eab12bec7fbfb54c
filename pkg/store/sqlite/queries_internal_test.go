package sqlite

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlWord matches the start of a statement on a table.
var sqlWord = regexp.MustCompile(`(?is)^\s*(SELECT\s.*\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|REPLACE\s+INTO\s|WITH\s)`)

// TestQueryListComplete keeps TestQueryPlans honest: it checks, on the
// source, that every SQL statement lives in a q-constant of queries.go and
// that queries() lists every such constant, so that the plan test sees
// every statement the store can run.
func TestQueryListComplete(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]bool{}
	listed := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for _, id := range n.Names {
					if strings.HasPrefix(id.Name, "q") && len(id.Name) > 1 && id.Name[1] >= 'A' && id.Name[1] <= 'Z' {
						if name != "queries.go" {
							t.Errorf("%s: query constant %s outside queries.go", fset.Position(id.Pos()), id.Name)
						}
						consts[id.Name] = true
					}
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING && name != "queries.go" {
					if s, err := strconv.Unquote(n.Value); err == nil && sqlWord.MatchString(s) {
						t.Errorf("%s: SQL literal outside queries.go: %s", fset.Position(n.Pos()), s)
					}
				}
			case *ast.FuncDecl:
				if n.Name.Name == "queries" || n.Name.Name == "usersByIDsQuery" {
					ast.Inspect(n.Body, func(m ast.Node) bool {
						if id, ok := m.(*ast.Ident); ok {
							listed[id.Name] = true
						}
						return true
					})
				}
			}
			return true
		})
	}
	if len(consts) < 30 {
		t.Fatalf("found only %d query constants: is the parse right?", len(consts))
	}
	for c := range consts {
		// qBackup (VACUUM INTO) reads no table through an index; it is
		// a whole-database copy by design.
		if !listed[c] && c != "qBackup" {
			t.Errorf("query constant %s is not listed by queries(): its plan is not checked", c)
		}
	}
}
