package rules

// DefaultABCCuts are abc's cuts when a declaration gives none: A holds
// the customers with the largest values up to 80% of the total, B up to
// 95%, C the rest.
var DefaultABCCuts = []float64{0.8, 0.95}

// DefaultRFMBins is the number of bins of each rfm score: quintiles.
const DefaultRFMBins = 5

// populationArgs checks pct_rank(fact), cume_dist(fact), ntile(fact, n), rfm(recency,
// frequency, monetary[, bins]) and abc(fact[, [cuts]]), and returns
// whether the fact can be null (a pct_rank, ntile or abc of a nullable
// fact is null where it is).
func (d *derivedDecl) populationArgs(out *Derivation) (nullable bool, err *derivedError) {
	switch d.call.name {
	case "pct_rank", "cume_dist":
		err = d.arity(1, 1)
	case "ntile":
		if err = d.arity(2, 2); err == nil {
			out.Bins, err = d.bins(d.call.args[1], 2, MaxNtileBins)
		}
	case "abc":
		if err = d.arity(1, 2); err == nil {
			out.Cuts, err = d.cuts()
		}
	case "rfm":
		return false, d.rfmArgs(out)
	}
	if err != nil {
		return false, err
	}
	f, err := d.input(d.call.args[0], false)
	if err != nil {
		return false, err
	}
	out.Inputs = []string{f.Name}
	return f.Nullable, nil
}

// rfmArgs checks rfm's recency (a time, a date, or a number of days),
// frequency and monetary facts and its optional number of bins.
func (d *derivedDecl) rfmArgs(out *Derivation) *derivedError {
	if err := d.arity(3, 4); err != nil {
		return err
	}
	out.Bins = DefaultRFMBins
	if len(d.call.args) == 4 {
		b, err := d.bins(d.call.args[3], 2, MaxRFMBins)
		if err != nil {
			return err
		}
		out.Bins = b
	}
	for i, a := range d.call.args[:3] {
		f, err := d.input(a, i == 0)
		if err != nil {
			return err
		}
		out.Inputs = append(out.Inputs, f.Name)
	}
	return nil
}

// input resolves a fact a population function reads: a number or an
// integer (or, for rfm's recency, a time or a date), declared under
// facts: or derived from transactions before it.
func (d *derivedDecl) input(a darg, recency bool) (Field, *derivedError) {
	if a.kind != argName {
		return Field{}, errAt(a.off, "write "+d.fn.usage, "expected the name of a fact, found %s", argKindNames[a.kind])
	}
	f, ok := d.lookup(a.name)
	if !ok {
		return Field{}, errAt(a.off, nearOrOneOf(a.name, d.names), "unknown fact %q", a.name)
	}
	if f.Derived != nil && f.Derived.Kind != DerivedTransactions {
		return Field{}, errAt(a.off, "rank a declared fact or one derived from transactions", "%q is a %s fact; %s reads facts the run has before it ranks anyone", a.name, f.Derived.Kind, d.call.name)
	}
	numeric := f.Type == TypeNumber || f.Type == TypeInteger
	if recency && !numeric && f.Type != TypeTime && f.Type != TypeDate {
		return Field{}, errAt(a.off, "give the last order's time or date (last_order_at), or the days since it", "rfm's recency %q is %s %s, not a time, a date or a number", a.name, article(f.Type.String()), f.Type)
	}
	if !recency && !numeric {
		return Field{}, errAt(a.off, "rank a number or an integer fact", "%q is %s %s, not a number", a.name, article(f.Type.String()), f.Type)
	}
	return f, nil
}

// bins reads a whole number of bins from lo to hi.
func (d *derivedDecl) bins(a darg, lo, hi int) (int, *derivedError) {
	n := int(a.number)
	if a.kind != argNumber || float64(n) != a.number {
		return 0, errAt(a.off, "write "+d.fn.usage, "expected a whole number of bins, found %s", argKindNames[a.kind])
	}
	if n < lo || n > hi {
		return 0, errAt(a.off, "write "+d.fn.usage, "%s takes %d to %d bins, not %d", d.call.name, lo, hi, n)
	}
	return n, nil
}

// cuts reads abc's optional list of cumulative shares.
func (d *derivedDecl) cuts() ([]float64, *derivedError) {
	if len(d.call.args) < 2 {
		return append([]float64(nil), DefaultABCCuts...), nil
	}
	a := d.call.args[1]
	const hint = "write the cumulative shares that close each class, increasing, e.g. [0.8, 0.95]"
	if a.kind != argList {
		return nil, errAt(a.off, hint, "expected a list of shares, found %s", argKindNames[a.kind])
	}
	if len(a.list) == 0 || len(a.list) > MaxABCCuts {
		return nil, errAt(a.off, hint, "%d cuts; give 1 to %d", len(a.list), MaxABCCuts)
	}
	prev := 0.0
	for i, c := range a.list {
		switch {
		case c <= 0 || c > 1:
			return nil, errAt(a.off, hint, "cut %d is %v: each is above 0 and at most 1", i+1, c)
		case c <= prev:
			return nil, errAt(a.off, hint, "cut %d (%v) is not above the one before it (%v)", i+1, c, prev)
		}
		prev = c
	}
	return a.list, nil
}

// rfmFields returns the four facts an rfm declaration named name makes:
// name, the code ("555"), and name_r, name_f, name_m, the scores.
func rfmFields(base Field, d Derivation) []Field {
	parts := []struct {
		suffix string
		part   RFMPart
		typ    Type
		label  string
	}{
		{"", RFMCode, TypeString, base.Label},
		{"_r", RFMRecency, TypeInteger, "R"},
		{"_f", RFMFrequency, TypeInteger, "F"},
		{"_m", RFMMonetary, TypeInteger, "M"},
	}
	out := make([]Field, 0, len(parts))
	for _, p := range parts {
		f := base
		f.Name, f.Type, f.Nullable = base.Name+p.suffix, p.typ, false
		if p.part != RFMCode && base.Label != "" {
			f.Label = base.Label + " " + p.label
		}
		dd := d
		dd.Part, dd.Group = p.part, base.Name
		f.Derived = &dd
		out = append(out, f)
	}
	return out
}
