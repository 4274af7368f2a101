package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Loaded is the outcome of loading rule files: the rule sets that
// compiled, and every diagnostic (errors and warnings) from all files.
type Loaded struct {
	RuleSets    []*RuleSet
	Diagnostics []Diagnostic
}

// Err returns the errors as an ErrorList, or nil when there are none.
func (l *Loaded) Err() error {
	var errs ErrorList
	for _, d := range l.Diagnostics {
		if d.Severity == SeverityError {
			errs = append(errs, d)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Load compiles the rule files named by paths. A directory is searched
// recursively for .yaml and .yml files that declare a rule set (a
// top-level "ruleset:" key); other YAML files there, such as CI
// workflows, are skipped. A file named NAME_test.yaml is read as the test
// cases of NAME.yaml beside it. Files given by name are always compiled.
func Load(fsys fs.FS, paths []string, opts Options) *Loaded {
	out := &Loaded{}
	names := map[string]string{}
	for _, p := range paths {
		files, err := ruleFiles(fsys, p)
		if err != nil {
			out.Diagnostics = append(out.Diagnostics, Diagnostic{Pos: Pos{File: p}, Message: err.Error()})
			continue
		}
		for _, f := range files {
			rs, diags := loadOne(fsys, f, opts)
			out.Diagnostics = append(out.Diagnostics, diags...)
			if rs == nil {
				continue
			}
			if first, dup := names[rs.Name]; dup {
				out.Diagnostics = append(out.Diagnostics, Diagnostic{
					Pos: Pos{File: f, Line: 1}, Field: "ruleset",
					Message: fmt.Sprintf("rule set %q is also defined in %s", rs.Name, first),
					Hint:    "give each rule set its own name",
				})
				continue
			}
			names[rs.Name] = f
			out.RuleSets = append(out.RuleSets, rs)
		}
	}
	return out
}

// LoadFiles is Load on the operating system's file system, with paths
// relative to the working directory.
func LoadFiles(paths []string, opts Options) *Loaded {
	return Load(osFS{}, paths, opts)
}

// osFS opens paths as given, absolute or relative, unlike os.DirFS.
type osFS struct{}

func (osFS) Open(name string) (fs.File, error) { return os.Open(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) {
	return os.ReadDir(name)
}
func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

func loadOne(fsys fs.FS, file string, opts Options) (*RuleSet, []Diagnostic) {
	src, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, []Diagnostic{{Pos: Pos{File: file}, Message: err.Error()}}
	}
	if tf := TestFileFor(file); tf != "" {
		if tsrc, err := fs.ReadFile(fsys, tf); err == nil {
			opts.Tests = &TestSource{File: tf, Src: tsrc}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, []Diagnostic{{Pos: Pos{File: tf}, Message: err.Error()}}
		}
	}
	rs, err := Compile(file, src, opts)
	if err != nil {
		var list ErrorList
		if errors.As(err, &list) {
			return nil, list
		}
		return nil, []Diagnostic{{Pos: Pos{File: file}, Message: err.Error()}}
	}
	return rs, rs.Warnings
}

// TestFileFor returns the name of the test file that belongs to a rule
// file (rules/retail.yaml -> rules/retail_test.yaml), or "" for a test
// file itself.
func TestFileFor(file string) string {
	ext := filepath.Ext(file)
	base := strings.TrimSuffix(file, ext)
	if strings.HasSuffix(base, TestFileSuffix) {
		return ""
	}
	return base + TestFileSuffix + ext
}

func isYAML(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

var rulesetKeyRE = regexp.MustCompile(`(?m)^ruleset\s*:`)

// ruleFiles expands p into the rule files it names.
func ruleFiles(fsys fs.FS, p string) ([]string, error) {
	info, err := fs.Stat(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("cannot read rules: %w", err)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = fs.WalkDir(fsys, p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !isYAML(path) || TestFileFor(path) == "" {
			return nil
		}
		src, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		if rulesetKeyRE.Match(bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read rules: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no rule files (YAML files with a top-level `ruleset:` key) under %s", p)
	}
	sort.Strings(files)
	return files, nil
}
