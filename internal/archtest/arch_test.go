package archtest

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tierflow/tierflow/"

// stores are the packages that plug into jobs as a state store or a facts
// source. None may depend on another: what they share is in jobs/kernel.
var stores = []string{"jobs/postgres", "jobs/sqlite", "jobs/memstore", "jobs/factsfile"}

// drivers are the database packages only stores may depend on.
var drivers = []string{"github.com/lib/pq", "modernc.org/sqlite", "github.com/jmoiron/sqlx"}

// deps lists every package of the module with its transitive dependencies,
// as go list -deps sees them.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	return m
}

func has(list []string, pkg string) bool {
	for _, p := range list {
		if p == pkg {
			return true
		}
	}
	return false
}

func TestStoresDoNotImportEachOther(t *testing.T) {
	all := deps(t)
	for _, s := range stores {
		d, ok := all[s]
		if !ok {
			t.Errorf("no package %s: update the list of stores", s)
			continue
		}
		for _, other := range stores {
			if other != s && has(d, module+other) {
				t.Errorf("%s depends on %s: move what they share to jobs/kernel", s, other)
			}
		}
	}
}

func TestLayers(t *testing.T) {
	all := deps(t)
	forbid := map[string][]string{
		"rules":         {module + "engine", module + "jobs", "database/sql", "github.com/robfig/cron/v3"},
		"rules/sqlexpr": {module + "engine", module + "jobs", "database/sql", "github.com/robfig/cron/v3"},
		"engine":        {module + "jobs", "database/sql"},
		"jobs":          append([]string{module + "jobs/kernel", module + "cmd/tierflow"}, drivers...),
		"jobs/kernel":   append([]string{module + "cmd/tierflow"}, prefixed(stores)...),
	}
	for pkg, bad := range forbid {
		for _, b := range bad {
			if has(all[pkg], b) {
				t.Errorf("%s depends on %s", pkg, strings.TrimPrefix(b, module))
			}
		}
	}
	for _, s := range stores {
		if has(all[s], module+"cmd/tierflow") {
			t.Errorf("%s depends on cmd/tierflow", s)
		}
	}
}

func prefixed(pkgs []string) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = module + p
	}
	return out
}

// The command reaches stores and sources through interfaces, and names
// their packages in one wiring file only.
func TestCommandWiresStoresInOneFile(t *testing.T) {
	files, err := filepath.Glob("../../cmd/tierflow/*.go")
	if err != nil {
		t.Fatal(err)
	}
	wiring := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, s := range append(prefixed(stores), drivers...) {
				if path == s {
					wiring[filepath.Base(f)] = true
				}
			}
		}
	}
	if len(wiring) != 1 || !wiring["store.go"] {
		t.Fatalf("files of cmd/tierflow importing stores, sources or drivers: %v; want store.go only", wiring)
	}
}
