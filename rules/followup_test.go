package rules_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// followRules is a rule set with follow-up keys: top goes after the
// ruleset line, vip into the vip segment, visit into the first action
// (which has channel: phone and outcomes) and review into the second
// (channel: email, no outcomes), each already indented.
func followRules(top, vip, visit, review string) string {
	return "ruleset: care\n" + top + `facts:
  spend: number
segmentations:
  - name: value_tier
    segments:
      - name: vip
        when: spend >= 1000
` + vip + `      - name: regular
        fallback: true
  - name: lifecycle
    segments:
      - {name: churned, when: spend == 0}
      - {name: active, fallback: true}
actions:
  - name: visit
    when: entered("value_tier", "vip")
    channel: phone
    outcomes: [reached, no_answer, converted]
` + visit + `  - name: review
    when: entered("value_tier", "vip")
    channel: email
` + review
}

// TestFollowUpKeys compiles every follow-up key and checks what it
// decodes to.
func TestFollowUpKeys(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, followRules(
		"limits:\n  per_customer: 2 per 7d\n  per_channel: {phone: 1 per 14d, email: 3 per 12h}\nchurn: lifecycle.churned\n",
		"        coverage: {every: 28d, by: [visit, review], counts: [reached, converted]}\n",
		"    holdout: 10%\n    holdout_salt: spring 2024\n    cost: 12.5\n",
		"    holdout: \"2.5%\"\n    cost: 0\n",
	))
	day := 24 * time.Hour
	lim := rs.Limits
	if lim == nil || lim.PerCustomer == nil {
		t.Fatalf("Limits = %+v", lim)
	}
	if got := *lim.PerCustomer; got.Count != 2 || got.Within != 7*day || got.Source != "2 per 7d" || got.Pos.Line != 3 || got.Pos.Col != 17 {
		t.Errorf("per_customer = %+v", got)
	}
	phone, email := lim.PerChannel["phone"], lim.PerChannel["email"]
	if len(lim.PerChannel) != 2 || phone == nil || email == nil {
		t.Fatalf("per_channel = %v", lim.PerChannel)
	}
	if phone.Count != 1 || phone.Within != 14*day || phone.Source != "1 per 14d" {
		t.Errorf("phone = %+v", *phone)
	}
	if email.Count != 3 || email.Within != 12*time.Hour || email.Source != "3 per 12h" {
		t.Errorf("email = %+v", *email)
	}
	if got := lim.Window(); got != 14*day {
		t.Errorf("Window() = %v, want 14 days", got)
	}
	if rs.Churn == nil || rs.Churn.String() != "lifecycle.churned" || rs.Churn.Pos.Line != 5 {
		t.Errorf("Churn = %+v", rs.Churn)
	}
	cov := rs.Segmentations[0].Segments[0].Coverage
	want := &rules.Coverage{Every: 28 * day, By: []string{"visit", "review"}, ByIndex: []int{0, 1}, Counts: []string{"reached", "converted"}, Pos: cov.Pos}
	if !reflect.DeepEqual(cov, want) {
		t.Errorf("Coverage = %+v, want %+v", cov, want)
	}
	if cov.Pos.Line != 13 || !cov.Covers(1, "converted") || cov.Covers(1, "no_answer") {
		t.Errorf("Coverage at %v, Covers wrong", cov.Pos)
	}
	if rs.Segmentations[0].Segments[1].Coverage != nil {
		t.Errorf("regular has a coverage target")
	}
	visit, review := rs.Actions[0], rs.Actions[1]
	if visit.Channel != "phone" || visit.Cost != 12.5 || !reflect.DeepEqual(visit.Outcomes, []string{"reached", "no_answer", "converted"}) {
		t.Errorf("visit = channel %q, cost %v, outcomes %v", visit.Channel, visit.Cost, visit.Outcomes)
	}
	if h := visit.Holdout; h.BasisPoints != 1000 || h.Salt != "spring 2024" || h.Share() != 0.1 || h.Pos.Line != 25 {
		t.Errorf("visit holdout = %+v", h)
	}
	if h := review.Holdout; h.BasisPoints != 250 || h.Salt != "" {
		t.Errorf("review holdout = %+v", h)
	}
	if review.Cost != 0 || review.Outcomes != nil || !visit.HasOutcome("no_answer") || review.HasOutcome("reached") {
		t.Errorf("review = cost %v, outcomes %v", review.Cost, review.Outcomes)
	}
	if len(rs.Warnings) != 0 {
		t.Errorf("warnings: %v", rs.Warnings)
	}
}

// TestFollowUpOptional: without the keys, nothing is declared.
func TestFollowUpOptional(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, followRules("limits:\n", "", "", ""))
	if rs.Limits != nil || rs.Churn != nil || rs.Segmentations[0].Segments[0].Coverage != nil {
		t.Errorf("Limits %v, Churn %v", rs.Limits, rs.Churn)
	}
	if a := rs.Actions[1]; a.Holdout != (rules.Holdout{}) || a.Cost != 0 {
		t.Errorf("review = %+v", a)
	}
	rs = mustCompile(t, followRules("limits: {per_channel: {phone: 1 per 1d}}\n", "", "", ""))
	if rs.Limits.PerCustomer != nil || rs.Limits.PerChannel["phone"].Count != 1 {
		t.Errorf("Limits = %+v", rs.Limits)
	}
	rs = mustCompile(t, followRules("", "        coverage:\n          every: 1w\n          by: [visit]\n          counts: [no_answer]\n", "", ""))
	if cov := rs.Segmentations[0].Segments[0].Coverage; cov.Every != 7*24*time.Hour || cov.ByIndex[0] != 0 {
		t.Errorf("Coverage = %+v", cov)
	}
}

// TestCoverageOnFallback: the fallback segment may declare a target.
func TestCoverageOnFallback(t *testing.T) {
	t.Parallel()
	src := strings.Replace(followRules("", "", "", ""), "        fallback: true\n", "        fallback: true\n        coverage: {every: 90d, by: [visit], counts: [reached]}\n", 1)
	rs := mustCompile(t, src)
	if cov := rs.Segmentations[0].Segments[1].Coverage; cov == nil || cov.Every != 90*24*time.Hour {
		t.Errorf("regular's Coverage = %+v", cov)
	}
}

// TestFollowUpErrors checks each follow-up key's errors: the message, the
// hint, and the position, which is where the text at is in the source.
func TestFollowUpErrors(t *testing.T) {
	t.Parallel()
	// parts are followRules' arguments; old, when set, is replaced by
	// new in the source.
	type parts struct{ top, vip, visit, review, old, new string }
	tests := []struct {
		name string
		in   parts
		at   string // the first occurrence of this text is the position
		want string // "field: message (hint)"
	}{
		// limits
		{"limit without per", parts{top: "limits: {per_customer: 2/7d}\n"}, "2/7d",
			`limits.per_customer: "2/7d" is not a contact limit (write N per DURATION, such as 2 per 7d: at most 2 actions in any 7 days)`},
		{"limit as a number", parts{top: "limits:\n  per_customer: 2\n"}, "2\n",
			`limits.per_customer: "2" is not a contact limit (write N per DURATION, such as 2 per 7d: at most 2 actions in any 7 days)`},
		{"limit count zero", parts{top: "limits: {per_customer: 0 per 7d}\n"}, "0 per",
			`limits.per_customer: "0 per 7d": the count must be a whole number, at least 1 (write N per DURATION with N at least 1, such as 1 per 7d)`},
		{"limit count not whole", parts{top: "limits: {per_customer: 1.5 per 7d}\n"}, "1.5",
			`limits.per_customer: "1.5 per 7d": the count must be a whole number, at least 1 (write N per DURATION with N at least 1, such as 1 per 7d)`},
		{"limit bad duration", parts{top: "limits: {per_customer: 2 per week}\n"}, "week",
			`limits.per_customer: "2 per week": "week" is not a duration (write 30d, 2w or 12h) (write N per DURATION, such as 2 per 7d: at most 2 actions in any 7 days)`},
		{"limit zero window", parts{top: "limits: {per_customer: 2 per 0d}\n"}, "0d",
			`limits.per_customer: "2 per 0d": the window must be longer than 0 (write N per DURATION, such as 2 per 7d: at most 2 actions in any 7 days)`},
		{"limit negative window", parts{top: "limits: {per_customer: 2 per -1d}\n"}, "-1d",
			`limits.per_customer: "2 per -1d": "-1d" is not a duration (write 30d, 2w or 12h) (write N per DURATION, such as 2 per 7d: at most 2 actions in any 7 days)`},
		{"unknown limits key", parts{top: "limits: {per_custmer: 2 per 7d}\n"}, "per_custmer",
			`limits.per_custmer: unknown key "per_custmer" (did you mean "per_customer"?)`},
		{"limits of nothing", parts{top: "limits: {}\n"}, "{}",
			`limits: limits declares no limit (add per_customer: 2 per 7d, per_channel: {phone: 1 per 14d}, or both; or remove limits)`},
		{"limits not a mapping", parts{top: "limits: 2 per 7d\n"}, "2 per",
			`limits: must be a mapping (key: value lines), not a single value`},
		{"per_channel of nothing", parts{top: "limits: {per_channel: {}}\n"}, "{}}",
			`limits.per_channel: per_channel names no channel (name each channel with its limit, such as per_channel: {phone: 1 per 14d})`},
		{"channel typo", parts{top: "limits:\n  per_channel: {phon: 1 per 14d}\n"}, "phon:",
			`limits.per_channel.phon: no action has channel "phon" (did you mean "phone"?)`},
		{"channel no action declares", parts{top: "limits:\n  per_channel: {sms: 1 per 14d}\n"}, "sms",
			`limits.per_channel.sms: no action has channel "sms" (actions declare the channels phone, email)`},
		{"channel not a name", parts{top: "limits:\n  per_channel: {Phone: 1 per 14d}\n"}, "Phone",
			`limits.per_channel.Phone: "Phone" is not a channel name (use lower-case letters, digits and _, as in an action's channel:)`},
		{"channel limit bad", parts{top: "limits:\n  per_channel: {phone: 1 per fortnight}\n"}, "fortnight",
			`limits.per_channel.phone: "1 per fortnight": "fortnight" is not a duration (write 30d, 2w or 12h) (write N per DURATION, such as 2 per 7d: at most 2 actions in any 7 days)`},

		// churn
		{"churn unknown segmentation", parts{top: "churn: lifecycel.churned\n"}, "lifecycel",
			`churn: unknown segmentation "lifecycel" (did you mean "lifecycle"?)`},
		{"churn unknown segment", parts{top: "churn: lifecycle.churn\n"}, "churn\n",
			`churn: segmentation "lifecycle" has no segment "churn" (did you mean "churned"?)`},
		{"churn far segment", parts{top: "churn: lifecycle.gone\n"}, "gone",
			`churn: segmentation "lifecycle" has no segment "gone" (expected one of: active, churned)`},
		{"churn without a dot", parts{top: "churn: churned\n"}, "churned\n",
			`churn: "churned" does not name a segment (write SEGMENTATION.SEGMENT, such as churn: lifecycle.churned)`},

		// channel, holdout, holdout_salt, cost, outcomes
		{"channel not a name", parts{old: "channel: email", new: "channel: E-Mail"}, "E-Mail",
			`actions.review.channel: "E-Mail" is not a channel name (use lower-case letters, digits and _, such as channel: phone)`},
		{"holdout_salt without holdout", parts{review: "    holdout_salt: pepper\n"}, "pepper",
			`actions.review.holdout_salt: holdout_salt without holdout (add holdout: 10% to keep a share of the customers out of the action, or remove holdout_salt)`},
		{"holdout 0%", parts{review: "    holdout: 0%\n"}, "0%",
			`actions.review.holdout: holdout 0% must be more than 0% and less than 100% (give a share between 0% and 100%, such as holdout: 10%)`},
		{"holdout 100%", parts{review: "    holdout: 100%\n"}, "100%",
			`actions.review.holdout: holdout 100% must be more than 0% and less than 100% (give a share between 0% and 100%, such as holdout: 10%)`},
		{"holdout huge", parts{review: "    holdout: 123456789012%\n"}, "123456789012%",
			`actions.review.holdout: holdout 123456789012% must be more than 0% and less than 100% (give a share between 0% and 100%, such as holdout: 10%)`},
		{"holdout without %", parts{review: "    holdout: 10\n"}, "10\n",
			`actions.review.holdout: holdout "10" is not a percentage (write holdout: 10%)`},
		{"holdout as a fraction", parts{review: "    holdout: 0.1\n"}, "0.1",
			`actions.review.holdout: holdout "0.1" is not a percentage (write holdout: 10%)`},
		{"holdout as a small fraction", parts{review: "    holdout: 0.025\n"}, "0.025",
			`actions.review.holdout: holdout "0.025" is not a percentage (write holdout: 2.5%)`},
		{"holdout three decimals", parts{review: "    holdout: 12.345%\n"}, "12.345%",
			`actions.review.holdout: holdout 12.345% has more than two decimals (round it to hundredths of a percent, such as holdout: 12.35%)`},
		{"holdout negative", parts{review: "    holdout: -5%\n"}, "-5%",
			`actions.review.holdout: holdout "-5%" is not a percentage (give a share between 0% and 100%, such as holdout: 10%)`},
		{"holdout words", parts{review: "    holdout: some\n"}, "some",
			`actions.review.holdout: holdout "some" is not a percentage (give a share between 0% and 100%, such as holdout: 10%)`},
		{"cost not a number", parts{review: "    cost: cheap\n"}, "cheap",
			`actions.review.cost: "cheap" is not a number (write what one queued action costs as a number, such as cost: 12.5)`},
		{"cost negative", parts{review: "    cost: -2\n"}, "-2",
			`actions.review.cost: cost cannot be negative (-2) (write 0 for an action that costs nothing)`},
		{"cost infinite", parts{review: "    cost: Infinity\n"}, "Infinity",
			`actions.review.cost: cost must be a finite number, not Infinity (write what one queued action costs as a number, such as cost: 12.5)`},
		{"cost NaN", parts{review: "    cost: NaN\n"}, "NaN",
			`actions.review.cost: cost must be a finite number, not NaN (write what one queued action costs as a number, such as cost: 12.5)`},
		{"outcomes empty", parts{review: "    outcomes: []\n"}, "[]",
			`actions.review.outcomes: outcomes lists no outcome (list how the action may end, such as outcomes: [reached, no_answer, converted, declined]; or remove outcomes)`},
		{"outcomes not a list", parts{review: "    outcomes: reached\n"}, "reached\n",
			`actions.review.outcomes: must be a list, not a single value (start each item with "- ")`},
		{"outcome not a name", parts{review: "    outcomes: [reached, No Answer]\n"}, "No Answer",
			`actions.review.outcomes[1]: "No Answer" is not a valid outcome name (use lower-case letters, digits and _, starting with a letter, such as no_answer)`},
		{"outcome twice", parts{review: "    outcomes: [reached, declined, reached]\n"}, "reached]",
			`actions.review.outcomes[2]: outcome "reached" is listed twice (list each outcome once)`},
		{"too many outcomes", parts{review: "    outcomes: [" + manyOutcomes(rules.MaxOutcomes+1) + "]\n"}, "[o0",
			`actions.review.outcomes: 33 outcomes; the limit is 32`},

		// coverage
		{"coverage not a mapping", parts{vip: "        coverage: 28d\n"}, "28d",
			`segmentations.value_tier.segments.vip.coverage: must be a mapping (key: value lines), not a single value`},
		{"coverage missing keys", parts{vip: "        coverage: {every: 28d, counts: [reached]}\n"}, "{every",
			`segmentations.value_tier.segments.vip.coverage.by: "by" is required (name the actions whose outcomes cover the customer, such as by: [vip_care_visit])`},
		{"coverage unknown key", parts{vip: "        coverage: {every: 28d, by: [visit], counts: [reached], within: 1d}\n"}, "within",
			`segmentations.value_tier.segments.vip.coverage.within: unknown key "within" (expected one of: by, counts, every)`},
		{"coverage every zero", parts{vip: "        coverage: {every: 0d, by: [visit], counts: [reached]}\n"}, "0d",
			`segmentations.value_tier.segments.vip.coverage.every: "0d": the duration must be longer than 0 (such as every: 28d)`},
		{"coverage every bad", parts{vip: "        coverage: {every: monthly, by: [visit], counts: [reached]}\n"}, "monthly",
			`segmentations.value_tier.segments.vip.coverage.every: "monthly" is not a duration (write 30d, 2w or 12h)`},
		{"coverage by unknown action", parts{vip: "        coverage: {every: 28d, by: [visti], counts: [reached]}\n"}, "visti",
			`segmentations.value_tier.segments.vip.coverage.by[0]: unknown action "visti" (did you mean "visit"?)`},
		{"coverage by far action", parts{vip: "        coverage: {every: 28d, by: [phone_call], counts: [reached]}\n"}, "phone_call",
			`segmentations.value_tier.segments.vip.coverage.by[0]: unknown action "phone_call" (expected one of: review, visit)`},
		{"coverage by empty", parts{vip: "        coverage: {every: 28d, by: [], counts: [reached]}\n"}, "[]",
			`segmentations.value_tier.segments.vip.coverage.by: by names no action (name at least one action, such as by: [vip_care_visit])`},
		{"coverage by twice", parts{vip: "        coverage: {every: 28d, by: [visit, visit], counts: [reached]}\n"}, "visit]",
			`segmentations.value_tier.segments.vip.coverage.by[1]: action "visit" is listed twice (list each action once)`},
		{"coverage counts empty", parts{vip: "        coverage: {every: 28d, by: [visit], counts: []}\n"}, "[]",
			`segmentations.value_tier.segments.vip.coverage.counts: counts names no outcome (name at least one outcome, such as counts: [reached])`},
		{"coverage counts typo", parts{vip: "        coverage: {every: 28d, by: [visit], counts: [reched]}\n"}, "reched",
			`segmentations.value_tier.segments.vip.coverage.counts[0]: "reched" is not an outcome of visit (did you mean "reached"?)`},
		{"coverage counts undeclared", parts{vip: "        coverage: {every: 28d, by: [visit], counts: [declined]}\n"}, "declined",
			`segmentations.value_tier.segments.vip.coverage.counts[0]: "declined" is not an outcome of visit (visit declares reached, no_answer, converted; to count declined, add it to the action's outcomes:)`},
		{"coverage counts of an action without outcomes", parts{vip: "        coverage: {every: 28d, by: [review], counts: [reached]}\n"}, "reached]",
			`segmentations.value_tier.segments.vip.coverage.counts[0]: "reached" is not an outcome of review (review declares no outcomes: add outcomes: [reached] to it)`},
		{"coverage counts of two actions", parts{vip: "        coverage: {every: 28d, by: [visit, review], counts: [declined]}\n"}, "declined",
			`segmentations.value_tier.segments.vip.coverage.counts[0]: "declined" is not an outcome of visit or review (they declare reached, no_answer, converted; to count declined, add it to the outcomes: of one of them)`},
		{"coverage counts twice", parts{vip: "        coverage: {every: 28d, by: [visit], counts: [reached, reached]}\n"}, "reached]",
			`segmentations.value_tier.segments.vip.coverage.counts[1]: outcome "reached" is listed twice (list each outcome once)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := followRules(tt.in.top, tt.in.vip, tt.in.visit, tt.in.review)
			if tt.in.old != "" {
				src = strings.Replace(src, tt.in.old, tt.in.new, 1)
			}
			d := onlyError(t, compileErrors(t, src))
			got := d.Field + ": " + d.Message
			if d.Hint != "" {
				got += " (" + d.Hint + ")"
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			line, col := runePos(src, tt.at)
			if d.Pos.Line != line || d.Pos.Col != col {
				t.Errorf("error at %d:%d, want %d:%d (at %q)\n%s", d.Pos.Line, d.Pos.Col, line, col, tt.at, d)
			}
			if d.Snippet == "" {
				t.Errorf("no snippet: %#v", d)
			}
		})
	}
}

func manyOutcomes(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "o" + string(rune('a'+i/26)) + string(rune('a'+i%26))
	}
	names[0] = "o0"
	return strings.Join(names, ", ")
}
