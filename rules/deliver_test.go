package rules_test

import (
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

const deliverRules = `ruleset: d
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= 100
      - name: small
        fallback: true
actions:
  - name: care_visit
    when: entered("tier", "vip")
    deliver_to: %s
`

// An action names the destination tierflow delivers it to; a name that
// cannot be a destination is an error at its position.
func TestDeliverTo(t *testing.T) {
	rs, err := rules.Compile("d.yaml", []byte(strings.Replace(deliverRules, "%s", "crm", 1)), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Actions[0].DeliverTo; got != "crm" {
		t.Fatalf("DeliverTo = %q, want crm", got)
	}
	_, err = rules.Compile("d.yaml", []byte(strings.Replace(deliverRules, "%s", `"Zoho CRM"`, 1)), rules.Options{})
	if err == nil || !strings.Contains(err.Error(), `d.yaml:14:17: actions.care_visit.deliver_to: "Zoho CRM" is not a destination name`) {
		t.Fatalf("a bad destination name: %v", err)
	}
}
