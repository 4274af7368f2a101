package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// The ways a source treats rows whose key an earlier row had.
const (
	// OnDuplicateError refuses the run, listing the first keys and the
	// count: the default, because a source that returns a customer twice
	// is usually a broken join upstream.
	OnDuplicateError = "error"
	// OnDuplicateFirst keeps the first row of each key, in the order the
	// source returned them.
	OnDuplicateFirst = "first"
	// OnDuplicateLast keeps the last row of each key.
	OnDuplicateLast = "last"
)

// OnDuplicateValues lists the accepted values of Source.OnDuplicate.
var OnDuplicateValues = []string{OnDuplicateError, OnDuplicateFirst, OnDuplicateLast}

// PrimarySource is the name of a rule set's first (or only) source when
// the configuration names none.
const PrimarySource = "primary"

// Source is one facts source of a rule set and how tierflow treats what
// it returns: which facts it provides, how its keys are normalised, what
// it does with duplicate keys, and the checks declared on it.
type Source struct {
	// Name identifies the source in reports and checks.
	Name  string
	Facts FactsSource
	// Provides lists the facts this source provides. For the first source
	// of a Sources, nil means every fact no other source provides.
	Provides []string
	// OnDuplicate is OnDuplicateError (also when empty), First or Last.
	OnDuplicate string
	// Key says how the source's keys are normalised before they are
	// matched: customers of every source are joined on the normalised key.
	Key KeyNormalization
	// MinRows refuses (as a failed check) a run whose source returns fewer
	// rows; 0 means no check.
	MinRows int64
	// MaxRowChange is the largest share (0 to 1) by which the number of
	// rows may differ from the last successful run's; 0 means no check.
	MaxRowChange float64
	// FreshWithin fails a check when the newest value of FreshFact (or,
	// when FreshFact is empty, the newest file of a file source) is older
	// than the run's as-of time by more than this; 0 means no check.
	FreshWithin time.Duration
	FreshFact   string
	// ChangeColumn names a time column that is set to the time of every
	// insert and update of a row: an incremental run on a source in the
	// state's database compares the digests of only the rows it says
	// changed since the last run's latest value, less ChangeLookback
	// (DefaultChangeLookback when 0), for writes that commit after the
	// time they stamp. "" for none: every row's digest is compared.
	ChangeColumn   string
	ChangeLookback time.Duration
	// Transactions, on a rule set's first source, is where the rule set's
	// transactions (orders) are read from for its derived facts
	// (rules.RuleSet.Derived): any facts source, opened with
	// TransactionsRuleSet. nil when the rule set reads none.
	Transactions FactsSource
}

// DefaultChangeLookback is how far before the last run's latest change
// an incremental run looks again for rows that changed
// (Source.ChangeLookback): writes that stamp a time and commit within a
// day of it are never missed, and rows read again whose digest did not
// change cost a look, not an evaluation.
const DefaultChangeLookback = 24 * time.Hour

func (s *Source) changeLookback() time.Duration {
	if s.ChangeLookback > 0 {
		return s.ChangeLookback
	}
	return DefaultChangeLookback
}

func (s *Source) onDuplicate() string {
	if s.OnDuplicate == "" {
		return OnDuplicateError
	}
	return s.OnDuplicate
}

// KeyNormalization is how a source's keys are rewritten before matching.
// The zero value keeps keys as they are.
type KeyNormalization struct {
	// Trim removes leading and trailing white space.
	Trim bool
	// Case is "", "lower" or "upper" (Unicode case mapping).
	Case string
	// StripZeros removes leading zeros ("007" is "7"; "0" stays "0").
	StripZeros bool
}

// KeyCases lists the accepted values of KeyNormalization.Case.
var KeyCases = []string{"lower", "upper"}

// IsZero reports whether keys are kept as they are.
func (k KeyNormalization) IsZero() bool { return k == KeyNormalization{} }

// Apply normalises one key.
func (k KeyNormalization) Apply(key string) string {
	if k.Trim {
		key = strings.TrimSpace(key)
	}
	switch k.Case {
	case "lower":
		key = strings.ToLower(key)
	case "upper":
		key = strings.ToUpper(key)
	}
	if k.StripZeros && len(key) > 1 {
		if t := strings.TrimLeft(key, "0"); t == "" {
			key = "0"
		} else {
			key = t
		}
	}
	return key
}

// Sources is a rule set's facts from one or more sources, merged on the
// customer key. The first source is the primary one: its customers are
// the run's customers. A customer a later source does not return gets
// null for that source's facts, so those facts must be nullable (Check
// says so). It implements FactsSource.
type Sources []Source

// Single makes the Sources of one source with the default treatment.
func Single(src FactsSource) Sources {
	return Sources{{Name: PrimarySource, Facts: src}}
}

// sourcesOf turns what the configuration gives for a rule set into
// Sources: Sources itself, or a plain source as the only, primary one.
func sourcesOf(f FactsSource) Sources {
	if s, ok := f.(Sources); ok {
		return s
	}
	return Single(f)
}

// Check verifies the sources against rs: each fact is provided by exactly
// one source and exists in the schema; facts of non-primary sources are
// nullable; names are unique; settings are valid. It returns every
// problem.
func (ss Sources) Check(rs *rules.RuleSet) error {
	if len(ss) == 0 {
		return fmt.Errorf("rule set %s has no facts source", rs.Name)
	}
	if rs.Facts == nil {
		return fmt.Errorf("rule set %s has no facts schema", rs.Name)
	}
	var errs []error
	names := map[string]bool{}
	owner := map[string]string{}
	for i, s := range ss {
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("source %q is named twice: give each source of %s its own name", s.Name, rs.Name))
		}
		names[s.Name] = true
		if s.Facts == nil {
			errs = append(errs, fmt.Errorf("source %q has no facts source", s.Name))
		}
		if !slices.Contains(OnDuplicateValues, s.onDuplicate()) {
			errs = append(errs, fmt.Errorf("source %q: on_duplicate %q: use one of %s", s.Name, s.OnDuplicate, strings.Join(OnDuplicateValues, ", ")))
		}
		if s.Key.Case != "" && !slices.Contains(KeyCases, s.Key.Case) {
			errs = append(errs, fmt.Errorf("source %q: key case %q: use lower or upper", s.Name, s.Key.Case))
		}
		if i > 0 && len(s.Provides) == 0 {
			errs = append(errs, fmt.Errorf("source %q: name the facts it provides (facts: [...]); only the first source may provide the rest", s.Name))
		}
		for _, f := range s.Provides {
			fd, _, ok := rs.Facts.Lookup(f)
			switch {
			case ok && fd.Derived != nil:
				errs = append(errs, fmt.Errorf("source %q provides %q, which %s derives itself (derived: in the rule file): remove it from the source's facts", s.Name, f, rs.Name))
			case !ok:
				errs = append(errs, fmt.Errorf("source %q provides %q, which is not a fact of %s", s.Name, f, rs.Name))
			case owner[f] != "":
				errs = append(errs, fmt.Errorf("fact %q is provided by both source %q and source %q: keep it in one", f, owner[f], s.Name))
			case i > 0 && !fd.Nullable:
				errs = append(errs, fmt.Errorf("fact %q comes from source %q, which may not return every customer: declare it nullable (%s?) so that a customer it lacks gets null", f, s.Name, fd.Type))
			}
			owner[f] = s.Name
		}
		if s.FreshFact != "" {
			fd, _, ok := rs.Facts.Lookup(s.FreshFact)
			if !ok || (fd.Type != rules.TypeTime && fd.Type != rules.TypeDate) {
				errs = append(errs, fmt.Errorf("source %q: fresh_fact %q must be a time fact of %s", s.Name, s.FreshFact, rs.Name))
			}
		}
	}
	errs = append(errs, ss.checkTransactions(rs))
	return errors.Join(errs...)
}

// OpenFacts opens every source and merges their streams on the
// normalised key, in key order. Duplicate keys are handled as each source
// says; the reader's Stream returns a *DuplicateKeysError at its end when
// a source refuses them.
func (ss Sources) OpenFacts(ctx context.Context, rs *rules.RuleSet) (FactsReader, error) {
	if err := ss.Check(rs); err != nil {
		return nil, err
	}
	m, err := ss.open(ctx, rs)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return m, nil
}

// open is OpenFacts on sources already checked against rs.
func (ss Sources) open(ctx context.Context, rs *rules.RuleSet) (*merged, error) {
	m := &merged{rs: rs, stats: make([]SourceQuality, len(ss))}
	for i := range ss {
		s := &ss[i]
		sub, pos := ss.subRuleSet(rs, i)
		fr, err := s.Facts.OpenFacts(ctx, sub)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("source %s: %w", s.Name, err)
		}
		m.parts = append(m.parts, part{src: s, sub: sub, pos: pos, reader: fr})
		m.stats[i] = SourceQuality{Name: s.Name, OnDuplicate: s.onDuplicate()}
	}
	return m, nil
}

// RuleSetFor is rs as source i reads it: the same key, with only the
// facts the source provides (for a first source that lists none, every
// fact the others do not provide). check --db checks each source
// against it.
func (ss Sources) RuleSetFor(rs *rules.RuleSet, i int) *rules.RuleSet {
	sub, _ := ss.subRuleSet(rs, i)
	return sub
}

// subRuleSet is RuleSetFor with pos, which maps the sub-schema's places
// to places in rs's schema (nil: the same places).
func (ss Sources) subRuleSet(rs *rules.RuleSet, i int) (*rules.RuleSet, []int) {
	if len(ss) == 1 && len(ss[0].Provides) == 0 && !rs.HasDerived() {
		return rs, nil
	}
	mine := map[string]bool{}
	if len(ss[i].Provides) > 0 {
		for _, f := range ss[i].Provides {
			mine[f] = true
		}
	} else {
		for _, f := range rs.Facts.Fields {
			mine[f.Name] = f.Derived == nil // derived facts come from no source
		}
		for _, o := range ss[1:] {
			for _, f := range o.Provides {
				delete(mine, f)
			}
		}
	}
	var fields []rules.Field
	var pos []int
	for k, f := range rs.Facts.Fields {
		if mine[f.Name] {
			fields = append(fields, f)
			pos = append(pos, k)
		}
	}
	schema, _ := rules.NewSchema(fields) // a subset of a valid schema
	sub := *rs
	sub.Facts = schema
	return &sub, pos
}

// DuplicateKeysError is a source that returned the same customer key more
// than once while its on_duplicate is error.
type DuplicateKeysError struct {
	Source string
	// Count is the number of rows whose key an earlier row had; Keys are
	// the first such keys.
	Count int64
	Keys  []string
}

// MaxDuplicateExamples is how many duplicate keys a report lists.
const MaxDuplicateExamples = 10

func (e *DuplicateKeysError) Error() string {
	quoted := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		quoted[i] = fmt.Sprintf("%q", k)
	}
	more := ""
	if e.Count > int64(len(e.Keys)) {
		more = ", ..."
	}
	what := grouped(e.Count) + " duplicate rows"
	if e.Count == 1 {
		what = "1 duplicate row"
	}
	return fmt.Sprintf("facts source %s returned %s (a customer key more than once: %s%s): fix the source (a join that fans out?), or set on_duplicate: first or last on the source to keep one row per key",
		e.Source, what, strings.Join(quoted, ", "), more)
}
