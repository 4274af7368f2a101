package factsfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// maxReported is how many bad rows an error lists.
const maxReported = 20

// emitter batches customers and collects bad rows: rows that are no
// customer (fatal problems). After the first bad row it hands out no more
// customers. A customer with bad values only is handed out with its
// FactErrors.
type emitter struct {
	size  int
	fn    func([]engine.Customer) error
	batch []engine.Customer
	shown []string
	nBad  int
	files []string // the files with bad rows
}

func (e *emitter) add(f file, line int, c engine.Customer, bad []problem) error {
	if anyFatal(bad) {
		e.nBad++
		if n := len(e.files); n == 0 || e.files[n-1] != f.path {
			e.files = append(e.files, f.path)
		}
		if len(e.shown) < maxReported {
			e.shown = append(e.shown, fmt.Sprintf("%s:%d: %s", f.path, line, rowMessage(f, bad)))
		}
		e.batch = nil
		return nil
	}
	if e.nBad > 0 {
		return nil
	}
	if e.batch == nil {
		e.batch = make([]engine.Customer, 0, min(e.size, 4096))
	}
	e.batch = append(e.batch, c)
	if len(e.batch) < e.size {
		return nil
	}
	b := e.batch
	e.batch = nil
	return e.fn(b)
}

// finish hands out the last batch, or reports the bad rows.
func (e *emitter) finish(label string) error {
	if e.nBad > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %s", label, plural(e.nBad, "bad row"))
		if len(e.files) > 1 {
			fmt.Fprintf(&b, " in %d files", len(e.files))
		}
		b.WriteString("; fix them in the export:")
		for _, s := range e.shown {
			b.WriteString("\n  " + s)
		}
		if e.nBad > len(e.shown) {
			fmt.Fprintf(&b, "\n  ... and %d more", e.nBad-len(e.shown))
		}
		return errors.New(b.String())
	}
	if len(e.batch) > 0 {
		return e.fn(e.batch)
	}
	return nil
}

// checkHeaders verifies that every CSV file's header has the columns rs
// reads, before any customer is handed out.
func checkHeaders(s *Source, rs *rules.RuleSet, files []file) error {
	g := newGaps(rs)
	for _, f := range files {
		if !f.csv() {
			continue
		}
		d, err := open(f)
		if err != nil {
			return err
		}
		cols, _ := d.columns()
		d.Close()
		g.add(f, cols)
	}
	msgs := g.messages()
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: the header does not fit rule set %s:\n  %s", label(s, files), rs.Name, strings.Join(msgs, "\n  "))
}

// gap is a column the rule set reads that files lack.
type gap struct {
	key   bool
	field rules.Field // for a fact
	name  string
	files []string
	text  bool   // the first file lacking it is CSV
	near  string // a column of that file with a near name
}

// gaps collects, for each column rs reads, the files that lack it: a CSV
// file's header, or a JSON Lines file's first object for the key and the
// facts that are not nullable.
type gaps struct {
	list []*gap
	dups []string
}

func newGaps(rs *rules.RuleSet) *gaps {
	g := &gaps{list: []*gap{{key: true, name: rs.Key}}}
	for _, f := range fields(rs) {
		g.list = append(g.list, &gap{field: f, name: f.Name})
	}
	return g
}

func (g *gaps) add(f file, cols []string) {
	text := f.csv()
	for _, gp := range g.list {
		if !text && !gp.key && gp.field.Nullable {
			continue
		}
		n := 0
		for _, c := range cols {
			if c == gp.name {
				n++
			}
		}
		switch {
		case n == 0:
			if len(gp.files) == 0 {
				gp.text, gp.near = text, near(gp.name, cols)
			}
			gp.files = append(gp.files, f.path)
		case n > 1 && text:
			g.dups = append(g.dups, fmt.Sprintf("%s: column %q appears %d times in the header: remove all but one", f.path, gp.name, n))
		}
	}
}

// messages says, once per column, which files lack it and how to fix it.
func (g *gaps) messages() []string {
	var out []string
	for _, gp := range g.list {
		if len(gp.files) == 0 {
			continue
		}
		col, place := column(gp.text), "the first object of"
		if gp.text {
			place = "the header of"
		}
		if gp.key {
			col = "key " + col
		}
		where := fmt.Sprintf("no %s %q in %s %s", col, gp.name, place, listFiles(gp.files))
		if gp.near != "" {
			where += fmt.Sprintf(" (did you mean %q?)", gp.near)
		}
		switch {
		case gp.key:
			out = append(out, fmt.Sprintf("%s: add it to the export, or set key: in the rule file", where))
		case gp.text:
			out = append(out, fmt.Sprintf("fact %q (%s): %s: add it to the export, or remove the fact from the rule file", gp.name, gp.field.Type, where))
		default:
			out = append(out, fmt.Sprintf("fact %q (%s): %s, and the fact is not nullable: add it to every object, or declare the fact %s?", gp.name, gp.field.Type, where, gp.field.Type))
		}
	}
	return append(out, g.dups...)
}

// near returns the column whose name is nearest to name, if it is near.
func near(name string, cols []string) string {
	best, bestDist := "", 0
	for _, c := range cols {
		d := levenshtein.ComputeDistance(strings.ToLower(name), strings.ToLower(c))
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > len([]rune(name))/3+1 {
		return ""
	}
	return best
}

// listFiles names files in a message, the first few of them.
func listFiles(paths []string) string {
	const shown = 3
	switch {
	case len(paths) == 1:
		return paths[0]
	case len(paths) <= shown:
		return strings.Join(paths[:len(paths)-1], ", ") + " and " + paths[len(paths)-1]
	}
	return fmt.Sprintf("%s and %d more files", strings.Join(paths[:shown], ", "), len(paths)-shown)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
