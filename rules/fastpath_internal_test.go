package rules

import "testing"

const fastPathSrc = `ruleset: broken
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
actions:
  - name: thank
    when: spend >= 100
    cooldown: 30d
`

// A fast path that cannot be built is reported as an internal error at
// the segmentation or the actions, never dropped. No valid rule set gets
// there, so the test breaks a compiled one's condition source.
func TestFastPathFailureIsReported(t *testing.T) {
	for _, tt := range []struct {
		name  string
		spoil func(rs *RuleSet)
		want  string
	}{
		{
			name:  "segmentation",
			spoil: func(rs *RuleSet) { rs.Segmentations[0].Segments[0].When.Source = "spend >=" },
			want: `broken.yaml:5:5: segmentations.tier: internal error: cannot combine the segmentation's conditions into one program: unexpected token Bracket(")") (2:1) (` + fastPathHint + `)
   5 |   - name: tier
     |     ^`,
		},
		{
			name:  "actions",
			spoil: func(rs *RuleSet) { rs.Actions[0].When.Source = "spend >= nope" },
			want: `broken.yaml:12:5: actions: internal error: cannot combine the actions' conditions into one program: unknown name nope (1:12) (` + fastPathHint + `)
  12 |   - name: thank
     |     ^`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := &loader{file: "broken.yaml", src: []byte(fastPathSrc)}
			rs := l.compile(l.src, Options{})
			if l.failed() || rs.Fast == nil {
				t.Fatalf("the valid rule set did not compile with a fast path:\n%v", ErrorList(l.diags))
			}
			tt.spoil(rs)
			l = &loader{file: "broken.yaml", src: []byte(fastPathSrc)}
			c := newExprCompiler(l, rs.Facts, rs.Params, rs.Segmentations)
			if fp := l.fastPath(c, rs); fp != nil {
				t.Errorf("fastPath returned %+v for a broken condition; want nil", fp)
			}
			if len(l.diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1:\n%v", len(l.diags), ErrorList(l.diags))
			}
			d := l.diags[0]
			if d.Severity != SeverityError || !l.failed() {
				t.Errorf("severity %v; want error", d.Severity)
			}
			if got := d.String(); got != tt.want {
				t.Errorf("diagnostic:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
