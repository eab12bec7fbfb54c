package postgres

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

// sqlWord matches the start of an SQL statement (keywords are upper case
// in this package; operation names, lower case, do not match).
var sqlWord = regexp.MustCompile(`(?s)^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|WITH\s|CREATE\s|SET\s|DROP\s|ALTER\s)`)

// TestQueryListComplete keeps TestQueryPlans honest: it checks, on the
// source, that every SQL statement lives in a constant of queries.go and
// that queries() lists every q-constant, so that the plan test sees every
// statement the store runs on its tables. The mig-constants (statements
// of migrate.go on schema_version) live in queries.go too but are not
// plan-checked.
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
					if isQueryConst(id.Name, "q") || isQueryConst(id.Name, "mig") {
						if name != "queries.go" {
							t.Errorf("%s: query constant %s outside queries.go", fset.Position(id.Pos()), id.Name)
						}
					}
					if isQueryConst(id.Name, "q") {
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
				if n.Name.Name == "queries" {
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
		if !listed[c] {
			t.Errorf("query constant %s is not listed by queries(): its plan is not checked", c)
		}
	}
}

// isQueryConst reports whether name is prefix followed by an upper-case
// letter (qUserByID, migLock).
func isQueryConst(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z'
}
