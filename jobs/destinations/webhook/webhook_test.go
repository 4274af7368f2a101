package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/webhook"
)

var (
	secretA = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	secretB = "whsec_" + base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	secretC = "whsec_" + base64.StdEncoding.EncodeToString([]byte("not-the-secret-you-want-at-all!!"))
	sentAt  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func delivery() *jobs.Delivery {
	asOf := time.Date(2026, 3, 1, 6, 0, 0, 500_000_000, time.UTC)
	return &jobs.Delivery{
		ID: 41, IdempotencyKey: "retail/winback_call/c-7/2026-03-01T06:00:00.5Z",
		RuleSet: "retail", Action: "winback_call", Customer: "c-7",
		Payload: json.RawMessage(`{"reason": "lapsed", "owner": "ana"}`), Priority: 2,
		CreatedAt: asOf, DueAt: asOf.Add(time.Hour), RunID: 9, Destination: "hooks", Attempt: 1,
	}
}

// received is one request as the receiver saw it.
type received struct {
	header http.Header
	body   []byte
}

// capture delivers d to a receiver that records the request and answers 204.
func capture(t *testing.T, cfg webhook.Config, d *jobs.Delivery) received {
	t.Helper()
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg.URL = srv.URL + "/hook"
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return sentAt }
	}
	wh, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if out := wh.Deliver(context.Background(), d); out.Err != nil || out.Status != http.StatusNoContent {
		t.Fatalf("Deliver = %+v, want accepted with 204", out)
	}
	return <-got
}

func TestReceiverVerifiesAndAccepts(t *testing.T) {
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secretA, r.Header, body, sentAt.Add(30*time.Second), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Team") != "crm" {
			http.Error(w, "bad request shape", http.StatusBadRequest)
			return
		}
		seen.Add(1)
		w.Write([]byte("thanks"))
	}))
	defer srv.Close()
	wh, err := webhook.New(webhook.Config{URL: srv.URL, Secrets: []string{secretA},
		Headers: map[string]string{"X-Team": "crm"}, Now: func() time.Time { return sentAt }})
	if err != nil {
		t.Fatal(err)
	}
	out := wh.Deliver(context.Background(), delivery())
	if out.Err != nil || out.Status != 200 || out.Response != "thanks" || seen.Load() != 1 {
		t.Fatalf("Deliver = %+v (receiver accepted %d), want accepted", out, seen.Load())
	}
}

func TestBody(t *testing.T) {
	d := delivery()
	r := capture(t, webhook.Config{Secrets: []string{secretA}}, d)
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	id := webhook.MessageID(d.IdempotencyKey)
	if body["type"] != "tierflow.action" || body["id"] != id || body["timestamp"] != "2026-03-01T06:00:00.5Z" {
		t.Fatalf("envelope = %v", body)
	}
	if r.header.Get("webhook-id") != id || r.header.Get("webhook-timestamp") != "1772366400" {
		t.Fatalf("headers = %v", r.header)
	}
	data, _ := body["data"].(map[string]any)
	want := map[string]any{
		"ruleset": "retail", "action": "winback_call", "customer": "c-7",
		"payload":  map[string]any{"reason": "lapsed", "owner": "ana"},
		"priority": 2.0, "due_at": "2026-03-01T07:00:00.5Z", "created_at": "2026-03-01T06:00:00.5Z",
		"run_id": 9.0, "attempt": 1.0, "action_id": 41.0, "idempotency_key": d.IdempotencyKey,
	}
	if len(data) != len(want) {
		t.Fatalf("data has %d fields, want %d: %v", len(data), len(want), data)
	}
	for k, v := range want {
		if g, _ := json.Marshal(data[k]); string(g) != mustJSON(v) {
			t.Errorf("data.%s = %s, want %s", k, g, mustJSON(v))
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestIDStableAcrossAttempts(t *testing.T) {
	d := delivery()
	first := capture(t, webhook.Config{Secrets: []string{secretA}}, d)
	d.Attempt = 2
	later := func() time.Time { return sentAt.Add(10 * time.Minute) }
	second := capture(t, webhook.Config{Secrets: []string{secretA}, Now: later}, d)
	if first.header.Get("webhook-id") != second.header.Get("webhook-id") {
		t.Fatalf("webhook-id changed between attempts: %s, %s", first.header.Get("webhook-id"), second.header.Get("webhook-id"))
	}
	if first.header.Get("webhook-timestamp") == second.header.Get("webhook-timestamp") {
		t.Fatal("webhook-timestamp is the attempt's time, but two attempts 10 minutes apart share it")
	}
	if err := webhook.Verify(secretA, second.header, second.body, later(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRejects(t *testing.T) {
	r := capture(t, webhook.Config{Secrets: []string{secretA}}, delivery())
	now := sentAt
	tampered := []byte(strings.Replace(string(r.body), `"c-7"`, `"c-8"`, 1))
	if string(tampered) == string(r.body) {
		t.Fatal("tampering changed nothing")
	}
	without := func(h string) http.Header { c := r.header.Clone(); c.Del(h); return c }
	with := func(h, v string) http.Header { c := r.header.Clone(); c.Set(h, v); return c }
	for _, tc := range []struct {
		name      string
		secret    string
		header    http.Header
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"tampered body", secretA, r.header, tampered, now, 0, webhook.ErrNoMatchingSecret},
		{"wrong secret", secretC, r.header, r.body, now, 0, webhook.ErrNoMatchingSecret},
		{"old timestamp", secretA, r.header, r.body, now.Add(5*time.Minute + time.Second), 0, webhook.ErrTooOld},
		{"old for a tight tolerance", secretA, r.header, r.body, now.Add(61 * time.Second), time.Minute, webhook.ErrTooOld},
		{"timestamp from the future", secretA, r.header, r.body, now.Add(-6 * time.Minute), 0, webhook.ErrTooNew},
		{"timestamp changed", secretA, with("webhook-timestamp", "1772366401"), r.body, now, 0, webhook.ErrNoMatchingSecret},
		{"id changed", secretA, with("webhook-id", "act_other"), r.body, now, 0, webhook.ErrNoMatchingSecret},
		{"timestamp not a number", secretA, with("webhook-timestamp", "noon"), r.body, now, 0, webhook.ErrBadTimestamp},
		{"only another scheme", secretA, with("webhook-signature", "v1a,"+strings.TrimPrefix(r.header.Get("webhook-signature"), "v1,")), r.body, now, 0, webhook.ErrNoMatchingSecret},
		{"no signature", secretA, without("webhook-signature"), r.body, now, 0, webhook.ErrMissingHeader},
		{"no id", secretA, without("webhook-id"), r.body, now, 0, webhook.ErrMissingHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := webhook.Verify(tc.secret, tc.header, tc.body, tc.now, tc.tolerance)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(tc.secret, "whsec_")) {
				t.Fatalf("error quotes the secret: %v", err)
			}
		})
	}
	// The same request, in time and untouched, passes: the rejections
	// above are for the reason each names.
	if err := webhook.Verify(secretA, r.header, r.body, now.Add(5*time.Minute), 0); err != nil {
		t.Fatalf("Verify of the untouched request = %v", err)
	}
}

func TestRotationSignsWithEverySecret(t *testing.T) {
	r := capture(t, webhook.Config{Secrets: []string{secretB, secretA}}, delivery())
	sigs := strings.Fields(r.header.Get("webhook-signature"))
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") || sigs[0] == sigs[1] {
		t.Fatalf("webhook-signature = %q, want two distinct v1 signatures", r.header.Get("webhook-signature"))
	}
	for _, s := range []string{secretA, secretB} {
		if err := webhook.Verify(s, r.header, r.body, sentAt, 0); err != nil {
			t.Errorf("Verify with one of the rotation's secrets = %v", err)
		}
	}
	if err := webhook.Verify(secretC, r.header, r.body, sentAt, 0); !errors.Is(err, webhook.ErrNoMatchingSecret) {
		t.Fatalf("Verify with a third secret = %v, want ErrNoMatchingSecret", err)
	}
}

// answer delivers to a receiver that runs handle.
func answer(t *testing.T, handle http.HandlerFunc, cfg webhook.Config) jobs.DeliveryOutcome {
	t.Helper()
	srv := httptest.NewServer(handle)
	t.Cleanup(srv.Close)
	if cfg.URL == "" {
		cfg.URL = srv.URL
	}
	cfg.Secrets = []string{secretA}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return sentAt }
	}
	wh, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Deliver(context.Background(), delivery())
}

func TestStatuses(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		permanent  bool
		retryAfter time.Duration
	}{
		{"500 is retried", 500, nil, `{"error":"db down"}`, false, 0},
		{"502 is retried", 502, nil, "", false, 0},
		{"429 with seconds", 429, map[string]string{"Retry-After": "7"}, "slow down", false, 7 * time.Second},
		{"503 with a date", 503, map[string]string{"Retry-After": sentAt.Add(2 * time.Minute).Format(http.TimeFormat)}, "", false, 2 * time.Minute},
		{"429 without Retry-After", 429, nil, "", false, 0},
		{"500 ignores Retry-After", 500, map[string]string{"Retry-After": "7"}, "", false, 0},
		{"400 is permanent", 400, nil, "bad field", true, 0},
		{"404 is permanent", 404, nil, "", true, 0},
		{"410 is permanent", 410, nil, "", true, 0},
		{"408 is retried", 408, nil, "", false, 0},
		{"409 is retried", 409, nil, "", false, 0},
		{"425 is retried", 425, nil, "", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := answer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}, webhook.Config{})
			if out.Err == nil || out.Status != tc.status || out.Response != tc.body ||
				out.Permanent != tc.permanent || out.RetryAfter != tc.retryAfter {
				t.Fatalf("outcome = %+v, want an error, status %d, response %q, permanent %v, retry after %s",
					out, tc.status, tc.body, tc.permanent, tc.retryAfter)
			}
		})
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	defer target.Close()
	out := answer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}, webhook.Config{Client: &http.Client{}})
	if out.Err == nil || out.Status != http.StatusTemporaryRedirect || out.Permanent || followed.Load() != 0 {
		t.Fatalf("outcome = %+v (target hit %d times), want a retryable 307, not followed", out, followed.Load())
	}
}

func TestHangingReceiverTimesOut(t *testing.T) {
	release := make(chan struct{})
	start := time.Now()
	out := answer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a hang-up only after the body
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}, webhook.Config{Timeout: 100 * time.Millisecond})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Deliver took %s with a 100ms timeout", elapsed)
	}
	if !errors.Is(out.Err, context.DeadlineExceeded) || out.Status != 0 || out.Permanent {
		t.Fatalf("outcome = %+v, want a retryable deadline error without status", out)
	}
}

func TestCancelledContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	wh, err := webhook.New(webhook.Config{URL: srv.URL, Secrets: []string{secretA}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	out := wh.Deliver(ctx, delivery())
	if !errors.Is(out.Err, context.Canceled) || out.Permanent {
		t.Fatalf("outcome = %+v, want a retryable cancellation", out)
	}
}

func TestResponseExcerptIsBoundedUTF8(t *testing.T) {
	// 1023 bytes of 'a', then "é" (2 bytes) would end at 1025: cut before it.
	long := strings.Repeat("a", jobs.MaxResponseExcerpt-1) + "é" + strings.Repeat("b", 5000)
	out := answer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, long)
	}, webhook.Config{})
	if want := strings.Repeat("a", jobs.MaxResponseExcerpt-1); out.Response != want {
		t.Fatalf("excerpt is %d bytes (valid UTF-8: %v), want the %d bytes before the split rune",
			len(out.Response), utf8.ValidString(out.Response), len(want))
	}
	// Exactly at the bound, a 2-byte rune that fits is kept.
	fits := strings.Repeat("a", jobs.MaxResponseExcerpt-2) + "é" + "zzz"
	out = answer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, fits)
	}, webhook.Config{})
	if len(out.Response) != jobs.MaxResponseExcerpt || !strings.HasSuffix(out.Response, "é") {
		t.Fatalf("excerpt is %d bytes ending %q, want %d ending in é", len(out.Response), out.Response[len(out.Response)-3:], jobs.MaxResponseExcerpt)
	}
}

func TestErrorsQuoteNoSecret(t *testing.T) {
	// A closed server: the connection is refused.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	wh, err := webhook.New(webhook.Config{URL: srv.URL + "/hook?token=tok-s3cr3t", Secrets: []string{secretA},
		Headers: map[string]string{"Authorization": "Bearer hdr-s3cr3t"}})
	if err != nil {
		t.Fatal(err)
	}
	out := wh.Deliver(context.Background(), delivery())
	if out.Err == nil || out.Status != 0 || out.Permanent {
		t.Fatalf("outcome = %+v, want a retryable error without status", out)
	}
	for _, s := range []string{"tok-s3cr3t", "hdr-s3cr3t", strings.TrimPrefix(secretA, "whsec_")} {
		if strings.Contains(out.Err.Error(), s) {
			t.Fatalf("error %q quotes %q", out.Err, s)
		}
	}
}

func TestNewRejects(t *testing.T) {
	short := "whsec_" + base64.StdEncoding.EncodeToString([]byte("too-short"))
	for _, tc := range []struct {
		name string
		cfg  webhook.Config
		want string
	}{
		{"no url", webhook.Config{Secrets: []string{secretA}}, "webhook: url: is empty"},
		{"ftp url", webhook.Config{URL: "ftp://x/?k=url-s3cr3t", Secrets: []string{secretA}}, `webhook: url: scheme "ftp" is not http or https`},
		{"bad url", webhook.Config{URL: "http://[::1/?k=url-s3cr3t", Secrets: []string{secretA}}, "webhook: url: cannot be parsed"},
		{"no secret", webhook.Config{URL: "http://x"}, "webhook: secrets: at least one is required"},
		{"no prefix", webhook.Config{URL: "http://x", Secrets: []string{secretA, "raw-s3cr3t-value-that-is-long"}}, `webhook: secrets[1]: does not start with "whsec_"`},
		{"not base64", webhook.Config{URL: "http://x", Secrets: []string{"whsec_!!s3cr3t!!"}}, `webhook: secrets[0]: the part after "whsec_" is not base64`},
		{"too short", webhook.Config{URL: "http://x", Secrets: []string{short}}, "webhook: secrets[0]: decodes to 9 bytes, want 24 to 64"},
		{"reserved header", webhook.Config{URL: "http://x", Secrets: []string{secretA}, Headers: map[string]string{"webhook-signature": "v1,hdr-s3cr3t"}}, "webhook: headers: webhook-signature is set by tierflow"},
		{"header injection", webhook.Config{URL: "http://x", Secrets: []string{secretA}, Headers: map[string]string{"X-Key": "hdr-s3cr3t\r\nX-Evil: 1"}}, "webhook: headers: X-Key: the value has a line break or NUL"},
		{"negative timeout", webhook.Config{URL: "http://x", Secrets: []string{secretA}, Timeout: -time.Second}, "webhook: timeout: -1s is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.New(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New = %v, want %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error quotes a secret: %v", err)
			}
		})
	}
}
