package main

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
)

// waitProject loads 50 retail customers into the database at dbURL and
// writes a config running the retail rule set every two seconds (with
// TIERFLOW_TEST_SCHEDULE_SECONDS=1) on them.
func waitProject(t *testing.T, dbURL string) string {
	t.Helper()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{factsDDL, `INSERT INTO customer_facts
		SELECT g, g * 1000, g * 900, g % 12, date '2024-07-01' - g * 20, timestamptz '2024-07-01' - g * interval '3 days', 'online'
		FROM generate_series(1, 50) AS g`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rules := strings.Replace(string(src), "params:\n", "schedule: {cron: \"*/2 * * * * *\", timezone: UTC}\n\nparams:\n", 1)
	config := filepath.Join(dir, "tierflow.yaml")
	for path, content := range map[string]string{
		filepath.Join(dir, "retail.yaml"): rules,
		config:                            "rulesets:\n  - rules: retail.yaml\n    source: customer_facts\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config
}

// startServe starts the tierflow binary's serve with args, the database
// URL in its environment, collecting its output.
func startServe(t *testing.T, dbURL string, args ...string) (*exec.Cmd, *lockedBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(tierflowBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TIERFLOW_DATABASE_URL=" + dbURL, testSecondsEnv + "=1"}
	out := &lockedBuffer{ch: make(chan []byte, 4096)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, out, exited
}

// stopServe sends serve SIGTERM and wants it to exit 0.
func stopServe(t *testing.T, cmd *exec.Cmd, out *lockedBuffer, exited <-chan error) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, out.String())
		}
	case <-time.After(35 * time.Second):
		t.Fatalf("serve did not exit after SIGTERM:\n%s", out.String())
	}
}

// checkAttempts wants the failed attempts logged numbered from 1, each
// with the wait before the next, a reason and an error: connection
// refused, or, once the server is started, that it is starting up.
// It returns how many there were.
func checkAttempts(t *testing.T, lines []map[string]any) int {
	t.Helper()
	retries := withMsg(lines, retryMsg)
	for i, l := range retries {
		reason := l["reason"]
		if l["attempt"] != float64(i+1) || l["retry_in"] == nil || l["error"] == nil ||
			(reason != "connection refused" && reason != "the database is starting up") || (i == 0 && reason != "connection refused") {
			t.Errorf("failed attempt %d logged as %v", i+1, l)
		}
	}
	return len(retries)
}

// serve started while its PostgreSQL is down stays up: live on /healthz,
// not ready on /readyz, logging each failed attempt as JSON. Once the
// server comes up, serve connects, becomes ready and runs the rule set;
// SIGTERM then stops it cleanly. No line quotes the password.
func TestServeWaitsForDatabase(t *testing.T) {
	t.Parallel()
	pg := pgtest.NewServer(t)
	u, err := url.Parse(pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", secret) // not asked for (trust), but in the URL
	dbURL := u.String()
	config := waitProject(t, dbURL)
	runCLI(t, map[string]string{"TIERFLOW_DATABASE_URL": dbURL}, "migrate", "--config", config).want(t, exitOK)
	pg.Stop(t)

	addr := freePort(t)
	cmd, out, exited := startServe(t, dbURL, "--config", config, "--listen", addr, "--connect-retry", "10ms", "--connect-retry-max", "100ms")
	base := "http://" + addr
	waitFor(t, "three failed attempts", out, func() bool { return strings.Count(out.String(), retryMsg) >= 3 })
	code, body := get(base + "/readyz")
	if code != 503 || !strings.Contains(body, "not ready: waiting for the database (connection refused; attempt ") {
		t.Errorf("/readyz while the database is down = %d %q", code, body)
	}
	if code, body := get(base + "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz while the database is down = %d %q", code, body)
	}

	pg.Start(t)
	waitFor(t, "/readyz", out, func() bool { code, _ := get(base + "/readyz"); return code == 200 })
	waitFor(t, "a run in /metrics", out, func() bool {
		_, body := get(base + "/metrics")
		return strings.Contains(body, `tierflow_runs_total{ruleset="retail"`)
	})
	stopServe(t, cmd, out, exited)

	logs := out.String()
	if strings.Contains(logs+body, secret) {
		t.Errorf("the password was printed:\n%s", logs)
	}
	lines := jsonLogLines(t, logs)
	if n := checkAttempts(t, lines); n < 3 {
		t.Errorf("%d failed attempts logged, want at least 3", n)
	}
	order := []string{"listening; not ready until the database is reached", retryMsg, "database reached", "rule set scheduled", "serving", "run starting", "stopped"}
	at := 0
	for _, l := range lines {
		if at < len(order) && l["msg"] == order[at] {
			at++
		}
	}
	if at < len(order) {
		t.Errorf("the log lacks %q after %q:\n%s", order[at], order[max(at-1, 0)], logs)
	}
}

// SIGTERM while serve waits for its database stops it at once, exit 0.
func TestServeWaitSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rules := filepath.Join(dir, "retail.yaml")
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, []byte(strings.Replace(string(src), "params:\n", "schedule: {cron: \"0 2 * * *\", timezone: UTC}\n\nparams:\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "tierflow.yaml")
	if err := os.WriteFile(config, []byte("rulesets:\n  - rules: retail.yaml\n    source: customer_facts\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dbURL := "postgres://postgres:" + secret + "@" + freePort(t) + "/x?sslmode=disable"
	cmd, out, exited := startServe(t, dbURL, "--config", config, "--listen", freePort(t), "--connect-retry", "10ms", "--connect-retry-max", "50ms")
	waitFor(t, "two failed attempts", out, func() bool { return strings.Count(out.String(), retryMsg) >= 2 })
	stopServe(t, cmd, out, exited)
	lines := jsonLogLines(t, out.String())
	checkAttempts(t, lines)
	if stopped := withMsg(lines, "stopped"); len(stopped) != 1 || stopped[0]["while"] != "waiting for the database" {
		t.Errorf("no stop while waiting logged:\n%s", out.String())
	}
	if strings.Contains(out.String(), secret) {
		t.Errorf("the password was printed:\n%s", out.String())
	}
}

// Errors waiting cannot fix stop serve at its first attempt, exit 1,
// with the error logged as JSON and no password in it.
func TestServePermanentErrors(t *testing.T) {
	t.Parallel()
	d := newDBEnv(t, 20)
	real, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	with := func(mod func(u *url.URL)) string {
		u := *real
		u.User = url.UserPassword(real.User.Username(), secret)
		mod(&u)
		return u.String()
	}
	tests := []struct{ name, url, want string }{
		{"bad URL", "postgres://postgres:" + secret + "\"x@127.0.0.1:1/x", "the database URL is not a valid URL"},
		{"unknown role", with(func(u *url.URL) { u.User = url.UserPassword("nobody", secret) }), `role "nobody" does not exist`},
		{"no such database", with(func(u *url.URL) { u.Path = "/no_such_database" }), `database "no_such_database" does not exist`},
		{"TLS refused", with(func(u *url.URL) { u.RawQuery = "sslmode=require" }), "the server does not offer TLS"},
		{"not migrated", with(func(*url.URL) {}), "does not exist yet: run `tierflow migrate` first"},
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "retail.yaml")
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, []byte(strings.Replace(string(src), "params:\n", "schedule: {cron: \"0 2 * * *\", timezone: UTC}\n\nparams:\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "tierflow.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("rulesets:\n  - rules: %s\n    source: customer_facts\n", rules)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"TIERFLOW_DATABASE_URL": tt.url}
			r := runCLIWithin(t, time.Minute, env, "serve", "--config", config, "--listen", "127.0.0.1:0").want(t, exitFailure)
			lines := jsonLogLines(t, r.stderr)
			failed := withMsg(lines, "serve cannot start; fix the error and start it again")
			if len(failed) != 1 || !strings.Contains(fmt.Sprint(failed[0]["error"]), tt.want) {
				t.Errorf("want one start failure with %q:\n%s", tt.want, r.stderr)
			}
			if len(withMsg(lines, retryMsg)) > 0 {
				t.Errorf("serve retried an error retrying cannot fix:\n%s", r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("the password was printed:\n%s", r)
			}
		})
	}
}
