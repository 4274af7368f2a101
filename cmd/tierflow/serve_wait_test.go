package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// stateErr is an error of the PostgreSQL server, with its SQLSTATE code,
// as lib/pq's errors tell it.
type stateErr string

func (e stateErr) Error() string    { return "pq: server says no (" + string(e) + ")" }
func (e stateErr) SQLState() string { return string(e) }

// refusedErr is the error of opening a PostgreSQL state store on a port
// nobody listens on.
func refusedErr(t *testing.T) error {
	t.Helper()
	_, err := backend{url: "postgres://postgres:s3cretpw@" + freePort(t) + "/x?sslmode=disable"}.openState(context.Background(), "")
	if err == nil {
		t.Fatal("opened a database on a free port")
	}
	return err
}

// Errors time may fix are retried, with a reason that quotes nothing of
// the error; the others are not.
func TestRetryable(t *testing.T) {
	t.Parallel()
	secrets := kernel.SecretsOf("postgres://u:s3cretpw@db:5432/x")
	tests := []struct {
		name   string
		err    error
		reason string // "" for an error that is not retried
	}{
		{"refused, from the store", refusedErr(t), "connection refused"},
		{"refused, wrapped and redacted", secrets.Err(fmt.Errorf("rulesets[0].source: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED})), "connection refused"},
		{"no such host", fmt.Errorf("connect to database: %w", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}}), "host not found"},
		{"timeout", fmt.Errorf("connect: %w", context.DeadlineExceeded), "timed out"},
		{"reset", fmt.Errorf("connect: %w", syscall.ECONNRESET), "connection lost"},
		{"starting up", fmt.Errorf("connect to database: %w", stateErr("57P03")), "the database is starting up"},
		{"too many connections", stateErr("53300"), "too many connections"},
		{"shutting down", stateErr("57P01"), "the database is shutting down"},
		{"connection exception", stateErr("08006"), "connection failure"},
		{"password", stateErr("28P01"), ""},
		{"no such role", stateErr("28000"), ""},
		{"no such database", stateErr("3D000"), ""},
		{"bad URL", kernel.CheckDSN("postgres://u:pa\"ss@db/x"), ""},
		{"not migrated", &kernel.ErrSchemaOutdated{Schema: "tierflow"}, ""},
		{"rule file", errors.New("rules/retail.yaml has errors; fix them first (tierflow check)"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error to classify")
			}
			reason, ok := retryable(tt.err)
			if ok != (tt.reason != "") || reason != tt.reason {
				t.Errorf("retryable(%v) = %q, %v; want %q", tt.err, reason, ok, tt.reason)
			}
		})
	}
}

// jsonLogLines parses every line of out as a JSON object, failing the test
// on one that is not.
func jsonLogLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("a log line is not JSON (%v): %s\nall lines:\n%s", err, l, out)
		}
		lines = append(lines, m)
	}
	return lines
}

// withMsg returns the lines whose msg is msg.
func withMsg(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

const retryMsg = "database not reachable; retrying"

// fakeWait is a dbWait that records its waits instead of sleeping, with
// no jitter, logging JSON to logs.
func fakeWait(logs *bytes.Buffer, base, max time.Duration, waits *[]time.Duration) *dbWait {
	secrets := kernel.SecretsOf("postgres://u:s3cretpw@db/x")
	d := newDBWait(base, max, slog.New(slog.NewJSONHandler(logs, nil)), newStartStatus(), secrets.Text)
	d.rnd = func() float64 { return 0 }
	d.after = func(w time.Duration) <-chan time.Time {
		*waits = append(*waits, w)
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	return d
}

// The wait doubles from the first up to the cap, each failure is logged
// with its number, the next wait, a reason and the error without the
// password, and /readyz's reason follows; success ends the wait.
func TestDBWaitBacksOff(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var waits []time.Duration
	d := fakeWait(&logs, 500*time.Millisecond, 3*time.Second, &waits)
	var reasons []string
	calls := 0
	err := d.run(context.Background(), func(context.Context) error {
		calls++
		if calls > 1 {
			reasons = append(reasons, d.status.String())
		}
		if calls <= 5 {
			return fmt.Errorf("connect to database postgres://u:s3cretpw@db/x: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	if strings.Contains(logs.String(), "s3cretpw") {
		t.Errorf("the password was logged:\n%s", logs.String())
	}
	lines := jsonLogLines(t, logs.String())
	retries := withMsg(lines, retryMsg)
	if len(retries) != 5 {
		t.Fatalf("%d retries logged, want 5:\n%s", len(retries), logs.String())
	}
	for i, l := range retries {
		if l["attempt"] != float64(i+1) || l["retry_in"] != want[i].String() || l["reason"] != "connection refused" || l["level"] != "WARN" {
			t.Errorf("retry %d logged %v", i+1, l)
		}
	}
	if len(withMsg(lines, "database reached")) != 1 {
		t.Errorf("the success is not logged:\n%s", logs.String())
	}
	if len(reasons) != 5 || reasons[2] != "waiting for the database (connection refused; attempt 3 failed, next in 2s)" {
		t.Errorf("/readyz reasons: %q", reasons)
	}
}

// An error waiting cannot fix ends the wait at its first attempt; so
// does ctx, while waiting.
func TestDBWaitStops(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var waits []time.Duration
	d := fakeWait(&logs, time.Second, time.Second, &waits)
	auth := stateErr("28P01")
	calls := 0
	err := d.run(context.Background(), func(context.Context) error { calls++; return auth })
	if !errors.Is(err, auth) || calls != 1 || len(waits) != 0 {
		t.Errorf("an authentication failure: %v after %d attempts and waits %v; want it at once", err, calls, waits)
	}

	ctx, cancel := context.WithCancel(context.Background())
	d.after = func(time.Duration) <-chan time.Time { cancel(); return nil }
	calls = 0
	err = d.run(ctx, func(context.Context) error { calls++; return stateErr("57P03") })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("cancelled while waiting: %v after %d attempts; want context.Canceled after 1", err, calls)
	}
}
