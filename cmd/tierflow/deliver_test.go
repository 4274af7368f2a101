package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs/destinations/webhook"
)

// hookRules queues vip_welcome, delivered to the destination hook, for
// each customer who becomes vip.
const hookRules = `ruleset: shop
schedule: {cron: "0 2 * * *", timezone: UTC}
facts:
  spend_12m: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 1000
      - name: small
        fallback: true
actions:
  - name: vip_welcome
    when: entered("tier", "vip")
    deliver_to: %s
    payload:
      spend: "=spend_12m"
`

// testSecret is a valid whsec_ signing secret.
var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// deliveryProject writes a project whose one customer (1) becomes vip and
// gets vip_welcome delivered to dest (deliver_to), with destinations
// (the YAML under destinations:), migrates it and applies it at the
// current time, so that the action is due. It returns the config path.
func deliveryProject(t *testing.T, dest, destinations string) string {
	t.Helper()
	config := unappliedDeliveryProject(t, dest, destinations)
	runCLI(t, nil, "apply", "--quiet", "--config", config, "--as-of", time.Now().UTC().Format(time.RFC3339)).want(t, exitOK)
	return config
}

// unappliedDeliveryProject is deliveryProject without the apply, for a
// dest the config does not declare (apply refuses it; deliverto_test.go).
func unappliedDeliveryProject(t *testing.T, dest, destinations string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"rules/shop.yaml": strings.Replace(hookRules, "%s", dest, 1),
		"facts.csv":       "customer_id,spend_12m\n1,1500\n2,20\n",
		"tierflow.yaml": "database: {path: state.db}\nrulesets:\n  - rules: rules/shop.yaml\n    source: {file: facts.csv}\n    initial_actions: true\n" +
			"delivery: {base_backoff: 1m}\ndestinations:\n" + destinations,
	}
	writeFiles(t, dir, files)
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	return config
}

// receiver is a webhook receiver that verifies every request's signature
// and answers status.
type receiver struct {
	mu       sync.Mutex
	status   int
	bodies   []map[string]any
	ids      []string
	rejected int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(testSecret, r.Header, body, time.Now(), 0); err != nil {
		rc.rejected++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		rc.rejected++
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	rc.bodies = append(rc.bodies, doc)
	rc.ids = append(rc.ids, r.Header.Get(webhook.HeaderID))
	w.WriteHeader(rc.status)
	io.WriteString(w, "receiver says "+http.StatusText(rc.status)) //nolint:errcheck
}

func (rc *receiver) answer(status int) {
	rc.mu.Lock()
	rc.status = status
	rc.mu.Unlock()
}

// actionID is the id of the one vip_welcome action in the queue.
func actionID(t *testing.T, config string) string {
	t.Helper()
	r := runCLI(t, nil, "actions", "list", "--config", config, "--action", "vip_welcome", "--format", "json").want(t, exitOK)
	var doc struct {
		Actions []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Actions) != 1 {
		t.Fatalf("want one vip_welcome action (%v):\n%s", err, r.stdout)
	}
	return strconv.FormatInt(doc.Actions[0].ID, 10)
}

// statusOf is the status line of actions show.
func statusOf(t *testing.T, config, id string) string {
	t.Helper()
	r := runCLI(t, nil, "actions", "show", id, "--config", config).want(t, exitOK)
	m := regexp.MustCompile(`(?m)^status\s+(\S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("actions show %s has no status:\n%s", id, r.stdout)
	}
	return m[1]
}

// A failing receiver leaves the action pending with its attempt and
// error recorded; once it answers 200, deliver --once delivers the
// action, signed, after retry puts it back in the queue.
func TestDeliverWebhook(t *testing.T) {
	t.Parallel()
	rc := &receiver{status: http.StatusInternalServerError}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	config := deliveryProject(t, "hook", "  hook: {type: webhook, url: "+srv.URL+"/in, secret_env: HOOK_SECRET, timeout: 5s}\n")
	env := map[string]string{"HOOK_SECRET": testSecret}
	id := actionID(t, config)

	r := runCLI(t, env, "deliver", "--once", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "0 delivered, 1 to retry, 0 dead") {
		t.Errorf("deliver --once against a 500:\n%s", r)
	}
	if got := statusOf(t, config, id); got != "pending" {
		t.Errorf("after a 500 the action is %s, want pending", got)
	}
	show := runCLI(t, nil, "actions", "show", id, "--config", config).want(t, exitOK)
	for _, want := range []string{"attempts         1", "500", "receiver says Internal Server Error"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("actions show lacks %q:\n%s", want, show.stdout)
		}
	}
	if strings.Contains(r.String()+show.String(), testSecret) {
		t.Errorf("the signing secret was printed:\n%s\n%s", r, show)
	}
	// Backed off: a second round finds nothing due.
	r = runCLI(t, env, "deliver", "--once", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "claimed 0") {
		t.Errorf("a backed-off action was claimed again at once:\n%s", r)
	}

	// Cancelled, it is not retried by deliver; retry puts it back, due now.
	runCLI(t, nil, "actions", "cancel", id, "--config", config).want(t, exitOK)
	if got := statusOf(t, config, id); got != "cancelled" {
		t.Errorf("after cancel the action is %s", got)
	}
	r = runCLI(t, nil, "actions", "cancel", id, "--config", config).want(t, exitFailure)
	if !strings.Contains(r.stderr, "only pending or claimed actions can be cancelled") {
		t.Errorf("cancel of a cancelled action:\n%s", r)
	}
	runCLI(t, nil, "actions", "retry", id, "--config", config).want(t, exitOK)
	rc.answer(http.StatusOK)
	r = runCLI(t, env, "deliver", "--once", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "1 delivered, 0 to retry, 0 dead") {
		t.Errorf("deliver --once against a 200:\n%s", r)
	}
	if got := statusOf(t, config, id); got != "done" {
		t.Errorf("after a 200 the action is %s, want done", got)
	}
	show = runCLI(t, nil, "actions", "show", id, "--config", config, "--format", "json").want(t, exitOK)
	var doc struct {
		Attempts []struct {
			Attempt    int `json:"attempt"`
			HTTPStatus int `json:"http_status"`
		} `json:"delivery_attempts"`
	}
	if err := json.Unmarshal([]byte(show.stdout), &doc); err != nil {
		t.Fatalf("actions show --format json: %v\n%s", err, show.stdout)
	}
	if len(doc.Attempts) != 2 || doc.Attempts[0].HTTPStatus != 500 || doc.Attempts[1].HTTPStatus != 200 || doc.Attempts[1].Attempt != 2 {
		t.Errorf("attempts recorded: %+v", doc.Attempts)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.rejected != 0 || len(rc.bodies) != 2 {
		t.Fatalf("receiver: %d rejected, %d verified", rc.rejected, len(rc.bodies))
	}
	if rc.ids[0] != rc.ids[1] || !strings.HasPrefix(rc.ids[0], "act_") {
		t.Errorf("webhook-id changed between attempts or is not an act_ id: %q", rc.ids)
	}
	data, _ := rc.bodies[1]["data"].(map[string]any)
	if data["action"] != "vip_welcome" || data["customer"] != "1" {
		t.Errorf("body: %v", rc.bodies[1])
	}
}

// A file destination gets one JSON line per delivered action.
func TestDeliverFile(t *testing.T) {
	t.Parallel()
	config := deliveryProject(t, "export", "  export: {type: file, path: out/actions.jsonl}\n")
	if err := os.MkdirAll(filepath.Join(filepath.Dir(config), "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "deliver", "--once", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "1 delivered") {
		t.Errorf("deliver --once:\n%s", r)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(config), "out", "actions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 1 || !json.Valid([]byte(lines[0])) || !strings.Contains(lines[0], `"vip_welcome"`) {
		t.Errorf("want one JSON line for vip_welcome, got:\n%s", b)
	}
	runCLI(t, nil, "deliver", "--once", "--config", config).want(t, exitOK)
	if b2, _ := os.ReadFile(filepath.Join(filepath.Dir(config), "out", "actions.jsonl")); string(b2) != string(b) {
		t.Errorf("a delivered action was written again:\n%s", b2)
	}
}

func TestDeliverErrors(t *testing.T) {
	t.Parallel()
	config := deliveryProject(t, "hook", "  hook: {type: webhook, url: http://127.0.0.1:1/in, secret_env: HOOK_SECRET}\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"secret not set", nil, []string{"deliver", "--once"}, "destinations.hook: $HOOK_SECRET holds no signing secret"},
		{"bad secret", map[string]string{"HOOK_SECRET": "whsec_short"}, []string{"deliver", "--once"}, "webhook: secrets[0]:"},
		{"unknown destination", map[string]string{"HOOK_SECRET": testSecret}, []string{"deliver", "--once", "--destination", "hok"}, `--destination "hok": no such destination (did you mean "hook"?)`},
		{"status", nil, []string{"actions", "list", "--status", "dade"}, `--status "dade": did you mean "dead"?`},
		{"show no id", nil, []string{"actions", "show"}, "give one action id"},
		{"show unknown id", nil, []string{"actions", "show", "999"}, "no action 999 in the queue"},
		{"retry unknown id", nil, []string{"actions", "retry", "999"}, "no action 999 in the queue"},
		{"subcommand", nil, []string{"actions", "shwo", "1"}, `did you mean "show"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, append(tt.args, "--config", config)...).want(t, exitFailure)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r)
			}
			if strings.Contains(r.stderr, "whsec_short") {
				t.Errorf("a secret was printed:\n%s", r)
			}
		})
	}
}

// An action delivered to a destination the config does not declare
// stops deliver, with the position in the rule file.
func TestDeliverToUndeclared(t *testing.T) {
	t.Parallel()
	config := unappliedDeliveryProject(t, "hokk", "  hook: {type: webhook, url: http://127.0.0.1:1/in, secret_env: HOOK_SECRET}\n")
	r := runCLI(t, map[string]string{"HOOK_SECRET": testSecret}, "deliver", "--once", "--config", config).want(t, exitFailure)
	for _, want := range []string{"rules/shop.yaml:15:17: actions.vip_welcome.deliver_to: unknown destination \"hokk\"", `did you mean "hook"?`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve delivers too when destinations are configured, and counts the
// deliveries per destination in /metrics, from 0.
func TestServeDelivers(t *testing.T) {
	t.Parallel()
	config := deliveryProject(t, "export", "  export: {type: file, path: actions.jsonl}\n  spare: {type: file, path: spare.jsonl}\n")
	addr := freePort(t)
	var stdout, stderr syncBuffer
	a := newApp(&stdout, &stderr)
	a.getenv = func(string) string { return "" }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- a.run(ctx, []string{"serve", "--config", config, "--listen", addr}) }()
	out := filepath.Join(filepath.Dir(config), "actions.jsonl")
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), `"vip_welcome"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve delivered nothing to %s; it logged:\n%s", out, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The worker counts a delivery once its outcome is written to the
	// queue, a moment after the line is in the file: wait for it.
	wants := []string{`tierflow_actions_delivered_total{destination="export"} 1`, `tierflow_actions_delivered_total{destination="spare"} 0`,
		`tierflow_delivery_queue_depth{destination="spare",status="pending"} 0`,
		`tierflow_actions_dead_total{destination="export"} 0`, `tierflow_delivery_duration_seconds_count{destination="export"} 1`}
	var missing []string
	for {
		_, metrics := get("http://" + addr + "/metrics")
		missing = missing[:0]
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range missing {
		t.Errorf("/metrics lacks %s", want)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve exited %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
