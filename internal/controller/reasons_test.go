package controller

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reasonConstants returns the value of every string constant named Reason* in the
// daemon's non-test sources: the Event reasons it can record.
func reasonConstants(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{"internal", "strategy", "analysis", "router"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				vs, ok := n.(*ast.ValueSpec)
				if !ok {
					return true
				}
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						out[v] = p + ": " + name.Name
					}
				}
				return true
			})
			return nil
		})
		require.NoError(t, err)
	}
	return out
}

func TestEveryEventReasonIsDocumentedInTheOneTable(t *testing.T) {
	root := filepath.Join("..", "..")
	reasons := reasonConstants(t, root)
	require.Contains(t, reasons, "Progressing", "reason constants not found")
	require.Contains(t, reasons, "InvalidSpec")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "observability.md"))
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| (Normal|Warning)").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	for reason, where := range reasons {
		assert.True(t, documented[reason], "Event reason %q (%s) is missing from the table in docs/observability.md", reason, where)
	}
}
