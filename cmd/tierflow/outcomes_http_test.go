package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/rules"
)

// outcomeRules queues vip_call (outcomes reached and no_answer) for a
// customer who becomes vip; vip_mail fires for them too but is
// suppressed by the contact limit, and small_note, for a customer who
// becomes small, is held out.
const outcomeRules = `ruleset: shop
schedule: {cron: "0 2 * * *", timezone: UTC}
facts:
  spend_12m: number
limits:
  per_customer: 1 per 7d
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 1000
        coverage: {every: 28d, by: [vip_call], counts: [reached]}
      - name: small
        fallback: true
actions:
  - name: vip_call
    when: entered("tier", "vip")
    priority: 1
    outcomes: [reached, no_answer]
  - name: vip_mail
    when: entered("tier", "vip")
    priority: 2
  - name: small_note
    when: entered("tier", "small")
    holdout: 99.99%
`

// outcomeToken is the bearer token of the tests' outcome endpoint.
const outcomeToken = "tok_Qm8vX2rL5nW7pZ3k"

// outcomeProject writes a project on the embedded store with
// outcomeRules and the config's serve: section serveYAML (may be ""),
// the token in the file outcome-token beside it, migrates it and
// applies it as of 2024-07-01. It returns the config path and the ids
// of the queued actions by action name.
func outcomeProject(t *testing.T, serveYAML string) (config string, ids map[string]string) {
	t.Helper()
	return writeOutcomeProject(t, "database: {path: state.db}\n", serveYAML, nil)
}

// outcomePGProject is outcomeProject on a fresh PostgreSQL database,
// whose URL is in env.
func outcomePGProject(t *testing.T, serveYAML string) (config string, ids map[string]string, env map[string]string) {
	t.Helper()
	env = map[string]string{"TIERFLOW_DATABASE_URL": pgtest.URL(t)}
	config, ids = writeOutcomeProject(t, "", serveYAML, env)
	return config, ids, env
}

// writeOutcomeProject writes, migrates and applies the project of
// outcomeProject with the config's database: section database ("" for
// the PostgreSQL database env names).
func writeOutcomeProject(t *testing.T, database, serveYAML string, env map[string]string) (config string, ids map[string]string) {
	t.Helper()
	dir := t.TempDir()
	cfg := database + "rulesets:\n  - rules: rules/shop.yaml\n    source: {file: facts.csv}\n    initial_actions: true\n"
	if serveYAML != "" {
		cfg += "serve:\n" + serveYAML
	}
	writeFiles(t, dir, map[string]string{
		"rules/shop.yaml": outcomeRules,
		"facts.csv":       "customer_id,spend_12m\n1,1500\n2,20\n",
		"outcome-token":   outcomeToken + "\n",
		"tierflow.yaml":   cfg,
	})
	config = filepath.Join(dir, "tierflow.yaml")
	runCLI(t, env, "migrate", "--config", config).want(t, exitOK)
	runCLI(t, env, "apply", "--quiet", "--config", config, "--as-of", "2024-07-01").want(t, exitOK)
	r := runCLI(t, env, "actions", "list", "--config", config, "--format", "json").want(t, exitOK)
	var doc struct {
		Actions []struct {
			ID     int64  `json:"id"`
			Action string `json:"action"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	ids = map[string]string{}
	for _, a := range doc.Actions {
		ids[a.Action] = strconv.FormatInt(a.ID, 10)
	}
	if len(ids) != 3 {
		t.Fatalf("want vip_call, vip_mail and small_note queued, got %v", ids)
	}
	return config, ids
}

// outcomeServer serves the outcome endpoint of config's project as serve
// does, on a real SQLite store, with a clock fixed at outcomeClock. The
// logs go to logs.
type outcomeServer struct {
	*httptest.Server
	store stateStore
	h     *outcomeHandler
	logs  *syncBuffer
}

var outcomeClock = time.Date(2024, 7, 3, 9, 30, 0, 0, time.UTC)

func newOutcomeServer(t *testing.T, config string, env map[string]string) *outcomeServer {
	t.Helper()
	cfg, err := loadConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	be, err := cfg.backend(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	store, err := be.openState(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	loaded := rules.LoadFiles([]string{cfg.rulesPath(cfg.RuleSets[0])}, ruleOptions())
	if err := loaded.Err(); err != nil {
		t.Fatal(err)
	}
	rs := loaded.RuleSets[0]
	ruleSet := func(name string) *rules.RuleSet {
		if name == rs.Name {
			return rs
		}
		return nil
	}
	logs := &syncBuffer{}
	a := newApp(io.Discard, logs)
	a.getenv = func(k string) string { return env[k] }
	a.now = func() time.Time { return outcomeClock }
	reg := prometheus.NewRegistry()
	h, err := a.outcomeEndpoint(cfg, &wiring{state: store}, ruleSet, slog.New(slog.NewJSONHandler(logs, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	ready.Store(true)
	srv := httptest.NewServer(healthMux(reg, &ready, store.Ping, h))
	t.Cleanup(srv.Close)
	return &outcomeServer{Server: srv, store: store, h: h, logs: logs}
}

// reply is one response of the endpoint.
type reply struct {
	status int
	header http.Header
	body   string
}

func (s *outcomeServer) do(t *testing.T, method, path, auth, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// Every answer of POST /v1/actions/ID/outcome, on a real SQLite store:
// the status, the body (JSON, with what went wrong in words), the
// headers a client needs, what is written, and the count of each result.
func TestOutcomeEndpoint(t *testing.T) {
	t.Parallel()
	const serve = "  outcomes: {token_file: outcome-token}\n"
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		config, ids := outcomeProject(t, serve)
		testOutcomeEndpoint(t, config, ids, nil)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		config, ids, env := outcomePGProject(t, serve)
		testOutcomeEndpoint(t, config, ids, env)
	})
}

func testOutcomeEndpoint(t *testing.T, config string, ids, env map[string]string) {
	s := newOutcomeServer(t, config, env)
	bearer := "Bearer " + outcomeToken
	path := func(name string) string { return "/v1/actions/" + ids[name] + "/outcome" }
	call := path("vip_call")
	tests := []struct {
		name         string
		method, path string
		auth, body   string
		status       int
		want         []string // in the body
		header       [2]string
		result       string
	}{
		{"GET", "GET", call, bearer, "", 405, []string{"report an outcome with POST"}, [2]string{"Allow", "POST"}, resultMethod},
		{"PUT", "PUT", call, bearer, `{"status":"done"}`, 405, nil, [2]string{"Allow", "POST"}, resultMethod},
		{"no token", "POST", call, "", `{"status":"done","outcome":"reached"}`, 401, []string{"send Authorization: Bearer TOKEN"},
			[2]string{"WWW-Authenticate", `Bearer realm="tierflow"`}, resultUnauthorized},
		{"wrong token", "POST", call, "Bearer " + strings.ToUpper(outcomeToken), `{"status":"done","outcome":"reached"}`, 401,
			[]string{"not one serve.outcomes names"}, [2]string{"WWW-Authenticate", `Bearer realm="tierflow", error="invalid_token"`}, resultUnauthorized},
		{"token prefix", "POST", call, "Bearer " + outcomeToken[:len(outcomeToken)-1], `{"status":"done","outcome":"reached"}`, 401, nil, [2]string{}, resultUnauthorized},
		{"basic auth", "POST", call, "Basic " + outcomeToken, `{"status":"done","outcome":"reached"}`, 401, nil, [2]string{}, resultUnauthorized},
		{"not JSON", "POST", call, bearer, `status=done`, 400, []string{"the body is not an outcome", `send {\"status\": \"done\"`}, [2]string{}, resultBadRequest},
		{"unknown field", "POST", call, bearer, `{"status":"done","outcom":"reached"}`, 400, []string{`unknown field \"outcom\"`}, [2]string{}, resultBadRequest},
		{"two values", "POST", call, bearer, `{"status":"done","outcome":"reached"} {}`, 400, []string{"more than one JSON value"}, [2]string{}, resultBadRequest},
		{"empty body", "POST", call, bearer, ``, 400, []string{"the body is empty"}, [2]string{}, resultBadRequest},
		{"wrong type", "POST", call, bearer, `{"status":"done","outcome":["reached"]}`, 400, []string{"outcome"}, [2]string{}, resultBadRequest},
		{"too large", "POST", call, bearer, `{"status":"done","note":"` + strings.Repeat("x", maxOutcomeBody) + `"}`, 413, []string{"over 65536 bytes"}, [2]string{}, resultTooLarge},
		{"bad time", "POST", call, bearer, `{"status":"done","outcome":"reached","at":"2024-07-01 10:00"}`, 400, []string{"is not an RFC 3339 time"}, [2]string{}, resultBadRequest},
		{"future time", "POST", call, bearer, `{"status":"done","outcome":"reached","at":"2024-07-04T00:00:00Z"}`, 422,
			[]string{"at: 2024-07-04T00:00:00Z is in the future (the clock says 2024-07-03T09:30:00Z)"}, [2]string{}, resultBadOutcome},
		{"not an id", "POST", "/v1/actions/abc/outcome", bearer, `{"status":"done"}`, 404, []string{"an action id is a whole number"}, [2]string{}, resultNoAction},
		{"no such action", "POST", "/v1/actions/999/outcome", bearer, `{"status":"done"}`, 404, []string{"no action 999 in the queue"}, [2]string{}, resultNoAction},
		{"held out", "POST", path("small_note"), bearer, `{"status":"done"}`, 409, []string{"is held_out", "only pending, claimed, done or failed actions take an outcome"}, [2]string{}, resultNotFinishable},
		{"suppressed", "POST", path("vip_mail"), bearer, `{"status":"failed"}`, 409, []string{"is suppressed"}, [2]string{}, resultNotFinishable},
		{"undeclared outcome", "POST", call, bearer, `{"status":"done","outcome":"converted"}`, 422, []string{`\"converted\" is not an outcome of action vip_call; it declares reached, no_answer`}, [2]string{}, resultBadOutcome},
		{"no outcome", "POST", call, bearer, `{"status":"done"}`, 422, []string{"needs an outcome, one of reached, no_answer"}, [2]string{}, resultBadOutcome},
		{"failed with an outcome", "POST", call, bearer, `{"status":"failed","outcome":"no_answer"}`, 422, []string{"a failed follow-up has no outcome"}, [2]string{}, resultBadOutcome},
		{"bad status", "POST", call, bearer, `{"status":"finished","outcome":"reached"}`, 422, []string{`status \"finished\"`}, [2]string{}, resultBadOutcome},
		{"done", "POST", call, bearer, `{"status":"done","outcome":"no_answer","note":"rang twice","at":"2024-07-02T10:30:00+08:00"}`, 200,
			[]string{`"status":"done"`, `"outcome":"no_answer"`, `"at":"2024-07-02T02:30:00Z"`, `"action":"vip_call"`, `"customer":"1"`, `"ruleset":"shop"`}, [2]string{"Content-Type", "application/json"}, resultRecorded},
		{"done again, at the server's clock", "POST", call, bearer, `{"status":"done","outcome":"reached","note":"booked a visit"}`, 200,
			[]string{`"outcome":"reached"`, `"at":"2024-07-03T09:30:00Z"`}, [2]string{}, resultRecorded},
	}
	counts := map[string]float64{}
	var seen bytes.Buffer
	for _, tt := range tests {
		r := s.do(t, tt.method, tt.path, tt.auth, tt.body)
		fmt.Fprintf(&seen, "%v %s\n", r.header, r.body)
		counts[tt.result]++
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, r.status, tt.status, r.body)
			continue
		}
		if !json.Valid([]byte(r.body)) {
			t.Errorf("%s: the body is not JSON: %s", tt.name, r.body)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s: body lacks %s: %s", tt.name, w, r.body)
			}
		}
		if h := tt.header; h[0] != "" && r.header.Get(h[0]) != h[1] {
			t.Errorf("%s: %s is %q, want %q", tt.name, h[0], r.header.Get(h[0]), h[1])
		}
	}
	for result, n := range counts {
		if got := testutil.ToFloat64(s.h.metrics.requests.WithLabelValues(result)); got != n {
			t.Errorf("tierflow_outcome_requests_total{result=%q} = %v, want %v", result, got, n)
		}
	}
	for _, o := range []struct {
		outcome string
		want    float64
	}{{"no_answer", 1}, {"reached", 1}} {
		if got := testutil.ToFloat64(s.h.metrics.outcomes.WithLabelValues("shop", "vip_call", "done", o.outcome)); got != o.want {
			t.Errorf("tierflow_outcomes_total{outcome=%q} = %v, want %v", o.outcome, got, o.want)
		}
	}
	show := runCLI(t, env, "actions", "show", ids["vip_call"], "--config", config).want(t, exitOK)
	for _, want := range []string{"status           done", "outcome          reached", "outcome at       2024-07-03T09:30:00Z", "note             booked a visit", "segments         tier=vip"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("actions show lacks %q:\n%s", want, show.stdout)
		}
	}
	_, metrics := get(s.URL + "/metrics")
	if !strings.Contains(metrics, `tierflow_outcomes_total{action="vip_call",outcome="reached",ruleset="shop",status="done"} 1`) {
		t.Errorf("/metrics lacks the recorded outcome:\n%s", metrics)
	}
	for what, text := range map[string]string{"responses": seen.String(), "logs": s.logs.String(), "/metrics": metrics} {
		if strings.Contains(text, outcomeToken) || strings.Contains(text, outcomeToken[:len(outcomeToken)-1]) {
			t.Errorf("the token is in the %s:\n%s", what, text)
		}
	}
	if !strings.Contains(s.logs.String(), `"msg":"outcome recorded"`) || !strings.Contains(s.logs.String(), `"result":"unauthorized"`) {
		t.Errorf("the logs lack the recorded outcome or the refused requests:\n%s", s.logs.String())
	}

	// A database that fails is a 500 that says where to look; the log
	// has the error.
	s.store.Close()
	r := s.do(t, "POST", call, bearer, `{"status":"done","outcome":"reached"}`)
	if r.status != 500 || !strings.Contains(r.body, "serve's log says why") {
		t.Errorf("with the store closed: %d %s", r.status, r.body)
	}
	if !strings.Contains(s.logs.String(), `"msg":"outcome not recorded"`) {
		t.Errorf("the log lacks the failure:\n%s", s.logs.String())
	}
	if got := testutil.ToFloat64(s.h.metrics.requests.WithLabelValues(resultError)); got != 1 {
		t.Errorf("errors counted %v, want 1", got)
	}
}

// Without serve.outcomes the endpoint answers 404, saying how to turn it
// on, whatever the request; the other endpoints are unchanged.
func TestOutcomeEndpointOff(t *testing.T) {
	t.Parallel()
	config, ids := outcomeProject(t, "")
	s := newOutcomeServer(t, config, nil)
	for _, method := range []string{"POST", "GET"} {
		r := s.do(t, method, "/v1/actions/"+ids["vip_call"]+"/outcome", "Bearer "+outcomeToken, `{"status":"done","outcome":"reached"}`)
		if r.status != 404 || !strings.Contains(r.body, "the outcome endpoint is off") || !strings.Contains(r.body, "serve.outcomes") {
			t.Errorf("%s with the endpoint off: %d %s", method, r.status, r.body)
		}
	}
	if got := testutil.ToFloat64(s.h.metrics.requests.WithLabelValues(resultDisabled)); got != 2 {
		t.Errorf("disabled requests counted %v, want 2", got)
	}
	if code, body := get(s.URL + "/healthz"); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if got := statusOf(t, config, ids["vip_call"]); got != "pending" {
		t.Errorf("the action is %s after requests to an endpoint that is off", got)
	}
}

// serve itself serves the endpoint with its token from the environment,
// checks outcomes against the rule sets it runs, counts them in
// /metrics, and never prints the token; a token it cannot read stops it
// at start, saying where it looked.
func TestServeOutcomes(t *testing.T) {
	t.Parallel()
	config, ids := outcomeProject(t, "  outcomes: {token_env: TIERFLOW_OUTCOMES_TOKEN}\n")
	addr := freePort(t)
	var stdout, stderr syncBuffer
	a := newApp(&stdout, &stderr)
	a.getenv = func(k string) string {
		if k == "TIERFLOW_OUTCOMES_TOKEN" {
			return "  " + outcomeToken + "\n"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- a.run(ctx, []string{"serve", "--config", config, "--listen", addr}) }()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for code, _ := get(base + "/readyz"); code != 200; code, _ = get(base + "/readyz") { // /healthz is up before the database is reached
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start; it logged:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	post := func(id, auth, body string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/v1/actions/"+id+"/outcome", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(ids["vip_call"], "Bearer wrong-token-0123456789", `{"status":"done","outcome":"reached"}`); code != 401 {
		t.Errorf("a wrong token: %d %s", code, body)
	}
	if code, body := post(ids["vip_call"], "Bearer "+outcomeToken, `{"status":"done","outcome":"bogus"}`); code != 422 || !strings.Contains(body, "it declares reached, no_answer") {
		t.Errorf("an undeclared outcome: %d %s", code, body)
	}
	code, body := post(ids["vip_call"], "bearer "+outcomeToken, `{"status":"done","outcome":"reached","note":"booked"}`)
	if code != 200 {
		t.Fatalf("a good report: %d %s\n%s", code, body, stderr.String())
	}
	var resp outcomeResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Action != "vip_call" || resp.Status != "done" || resp.Outcome != "reached" || resp.Customer != "1" || resp.RuleSet != "shop" {
		t.Errorf("response %s (%v)", body, err)
	}
	if time.Since(resp.At) > time.Minute || time.Until(resp.At) > time.Minute {
		t.Errorf("without at, the outcome is timed %s, not now", resp.At)
	}
	_, metrics := get(base + "/metrics")
	for _, want := range []string{`tierflow_outcomes_total{action="vip_call",outcome="reached",ruleset="shop",status="done"} 1`,
		`tierflow_outcome_requests_total{result="recorded"} 1`, `tierflow_outcome_requests_total{result="unauthorized"} 1`,
		`tierflow_outcome_requests_total{result="bad_outcome"} 1`, `tierflow_outcome_requests_total{result="not_finishable"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
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
	out := stdout.String() + stderr.String() + metrics
	if strings.Contains(out, outcomeToken) {
		t.Errorf("serve printed the token:\n%s", out)
	}
	if !strings.Contains(stderr.String(), `"token_from":"$TIERFLOW_OUTCOMES_TOKEN"`) {
		t.Errorf("serve does not log where the token comes from:\n%s", stderr.String())
	}
	if got := statusOf(t, config, ids["vip_call"]); got != "done" {
		t.Errorf("after the report the action is %s", got)
	}
}

// A token serve cannot read stops it at start, with the place it looked
// named and the token, whatever it is, not printed.
func TestServeOutcomesTokenErrors(t *testing.T) {
	t.Parallel()
	config, _ := outcomeProject(t, "  outcomes: {token_env: TIERFLOW_OUTCOMES_TOKEN}\n")
	fileConfig, _ := outcomeProject(t, "  outcomes: {token_file: missing-token}\n")
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "short"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, config, token, want string
	}{
		{"unset", config, "", "serve.outcomes: $TIERFLOW_OUTCOMES_TOKEN holds no token"},
		{"blank", config, " \n ", "serve.outcomes: $TIERFLOW_OUTCOMES_TOKEN holds no token"},
		{"short", config, "Zq9Wv7Kx", "serve.outcomes: token 1 of $TIERFLOW_OUTCOMES_TOKEN is shorter than 16 characters"},
		{"second short", config, outcomeToken + " Zq9Wv7Kx", "token 2 of $TIERFLOW_OUTCOMES_TOKEN is shorter"},
		{"no file", fileConfig, "", "serve.outcomes.token_file: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"TIERFLOW_OUTCOMES_TOKEN": tt.token}
			r := runCLIWithin(t, 10*time.Second, env, "serve", "--config", tt.config, "--listen", "127.0.0.1:0").want(t, exitFailure)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r)
			}
			for _, secret := range strings.Fields(tt.token) {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("the token %q was printed:\n%s", secret, r)
				}
			}
		})
	}
}
