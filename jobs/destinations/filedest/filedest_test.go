package filedest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/filedest"
	"github.com/tierflow/tierflow/jobs/destinations/webhook"
)

func delivery(i int) *jobs.Delivery {
	asOf := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	return &jobs.Delivery{
		ID: int64(i), IdempotencyKey: fmt.Sprintf("retail/winback_call/c-%d/2026-03-01T06:00:00Z", i),
		RuleSet: "retail", Action: "winback_call", Customer: fmt.Sprintf("c-%d", i),
		Payload: json.RawMessage(`{"n": ` + fmt.Sprint(i) + `}`), Priority: 1,
		CreatedAt: asOf, DueAt: asOf.Add(time.Hour), RunID: 3, Attempt: 1,
	}
}

func TestConcurrentDeliveriesWriteWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	f, err := filedest.New(path, filedest.WithSync(true))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if out := f.Deliver(context.Background(), delivery(i)); out.Err != nil {
				t.Error(out.Err)
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, l := range readLines(t, path) {
		var line filedest.Line
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		if seen[line.ActionID] || line.Customer != fmt.Sprintf("c-%d", line.ActionID) {
			t.Fatalf("line %q repeated or mixed up", l)
		}
		seen[line.ActionID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d actions in the file, want %d", len(seen), n)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		t.Fatalf("file does not end in a newline: %q", b)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestAppendsAcrossOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	for i := range 2 {
		f, err := filedest.New(path)
		if err != nil {
			t.Fatal(err)
		}
		if out := f.Deliver(context.Background(), delivery(i)); out.Err != nil {
			t.Fatal(out.Err)
		}
		f.Close()
	}
	if lines := readLines(t, path); len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (the second open must append)", len(lines))
	}
}

func TestStdoutWriterAndLineShape(t *testing.T) {
	var buf bytes.Buffer
	for _, p := range []string{"-", ""} {
		buf.Reset()
		f, err := filedest.New(p, filedest.WithWriter(&buf))
		if err != nil {
			t.Fatal(err)
		}
		d := delivery(7)
		if out := f.Deliver(context.Background(), d); out.Err != nil {
			t.Fatal(out.Err)
		}
		want := `{"id":"` + webhook.MessageID(d.IdempotencyKey) + `","ruleset":"retail","action":"winback_call","customer":"c-7",` +
			`"payload":{"n":7},"priority":1,"due_at":"2026-03-01T07:00:00Z","created_at":"2026-03-01T06:00:00Z",` +
			`"run_id":3,"attempt":1,"action_id":7,"idempotency_key":"retail/winback_call/c-7/2026-03-01T06:00:00Z"}` + "\n"
		if buf.String() != want {
			t.Fatalf("path %q wrote\n%s\nwant\n%s", p, buf.String(), want)
		}
	}
}

// A line is the webhook body's data plus its id: same names, same id.
func TestLineMatchesWebhookData(t *testing.T) {
	d := delivery(3)
	ev := webhook.NewEvent(d)
	keys := func(v any) []string {
		b, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(b, &m)
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	line := filedest.NewLine(d)
	want := append(keys(ev.Data), "id")
	sort.Strings(want)
	if got := keys(line); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("line fields %v, want %v", got, want)
	}
	if line.ID != ev.ID {
		t.Fatalf("line id %s, webhook id %s", line.ID, ev.ID)
	}
}

// failing writes half of what it is given, then fails, once.
type failing struct {
	bytes.Buffer
	fail bool
}

func (w *failing) Write(p []byte) (int, error) {
	if w.fail {
		w.fail = false
		w.Buffer.Write(p[:len(p)/2])
		return len(p) / 2, errors.New("disk full")
	}
	return w.Buffer.Write(p)
}

func TestFailedWriteIsRetryableAndLeavesLinesWhole(t *testing.T) {
	w := &failing{fail: true}
	f, _ := filedest.New("-", filedest.WithWriter(w))
	out := f.Deliver(context.Background(), delivery(1))
	if out.Err == nil || out.Permanent || !strings.Contains(out.Err.Error(), "disk full") {
		t.Fatalf("outcome = %+v, want a retryable write error", out)
	}
	if out := f.Deliver(context.Background(), delivery(1)); out.Err != nil {
		t.Fatal(out.Err)
	}
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 2 || json.Valid([]byte(lines[0])) || !json.Valid([]byte(lines[1])) {
		t.Fatalf("after a torn write the retry must start a fresh line: %q", w.String())
	}
}

func TestPermanentAndCancelled(t *testing.T) {
	var buf bytes.Buffer
	f, _ := filedest.New("-", filedest.WithWriter(&buf))
	d := delivery(1)
	d.Payload = json.RawMessage(`{not json`)
	if out := f.Deliver(context.Background(), d); out.Err == nil || !out.Permanent {
		t.Fatalf("bad payload: outcome = %+v, want permanent", out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if out := f.Deliver(ctx, delivery(2)); !errors.Is(out.Err, context.Canceled) || out.Permanent {
		t.Fatalf("cancelled: outcome = %+v, want a retryable cancellation", out)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %q for failed deliveries", buf.String())
	}
}

func TestOpenError(t *testing.T) {
	_, err := filedest.New(filepath.Join(t.TempDir(), "missing", "a.jsonl"))
	if err == nil || !strings.HasPrefix(err.Error(), "filedest: open: ") {
		t.Fatalf("New = %v, want an open error", err)
	}
}
