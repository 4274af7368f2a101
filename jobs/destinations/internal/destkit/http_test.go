package destkit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tierflow/tierflow/jobs"
)

func TestPost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			r.Header.Get("Accept") != "application/json" || r.Header.Get("Authorization") != "Bearer t" || string(b) != "a=1" {
			http.Error(w, "bad request shape", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Answer", "yes")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, strings.Repeat("x", MaxBody+10))
	}))
	defer srv.Close()
	ex, err := Post(context.Background(), srv.Client(), srv.URL, "application/x-www-form-urlencoded", []byte("a=1"),
		http.Header{"Authorization": {"Bearer t"}})
	if err != nil || ex.Status != http.StatusCreated || ex.Header.Get("X-Answer") != "yes" || len(ex.Body) != MaxBody {
		t.Fatalf("Post = status %d body %d bytes, %v; want 201 with MaxBody bytes", ex.Status, len(ex.Body), err)
	}
	srv.Close()
	if ex, err := Post(context.Background(), srv.Client(), srv.URL, "application/json", nil, nil); err == nil || ex.Status != 0 {
		t.Fatalf("Post to a closed server = %+v, %v; want a transport error", ex, err)
	}
	if _, err := Post(context.Background(), http.DefaultClient, "http://[::1", "application/json", nil, nil); err == nil {
		t.Fatal("Post accepted a bad url")
	}
}

func TestPostBrokenBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "part")
	}))
	defer srv.Close()
	ex, err := Post(context.Background(), srv.Client(), srv.URL, "application/json", nil, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "read response: ") || ex.Status != 200 || string(ex.Body) != "part" {
		t.Fatalf("Post = %+v, %v; want what was read and a read error", ex, err)
	}
}

func TestClassify(t *testing.T) {
	now := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		status     int
		header     http.Header
		detail     string
		permanent  bool
		retryAfter time.Duration
		msg        string
	}{
		{status: 500, msg: "post x: http 500"},
		{status: 502, detail: "E: bad gateway", msg: "post x: http 502: E: bad gateway"},
		{status: 429, header: http.Header{"Retry-After": {"7"}}, retryAfter: 7 * time.Second, msg: "post x: http 429"},
		{status: 503, header: http.Header{"Retry-After": {now.Add(2 * time.Minute).Format(http.TimeFormat)}}, retryAfter: 2 * time.Minute, msg: "post x: http 503"},
		{status: 500, header: http.Header{"Retry-After": {"7"}}, msg: "post x: http 500"},
		{status: 408, msg: "post x: http 408"},
		{status: 401, msg: "post x: http 401"},
		{status: 403, msg: "post x: http 403"},
		{status: 400, permanent: true, msg: "post x: http 400"},
		{status: 404, permanent: true, msg: "post x: http 404"},
		{status: 302, msg: "post x: http 302"},
	} {
		ex := Exchange{Status: tc.status, Header: tc.header, Body: []byte("b")}
		if tc.header == nil {
			ex.Header = http.Header{}
		}
		err := Classify(ex, "post x", tc.detail, now)
		var f *Failure
		if !errors.As(err, &f) || err.Error() != tc.msg || f.Permanent != tc.permanent || f.RetryAfter != tc.retryAfter || f.Ex.Status != tc.status {
			t.Errorf("Classify(%d) = %#v, want %q permanent %v retry after %s", tc.status, err, tc.msg, tc.permanent, tc.retryAfter)
		}
	}
	for _, s := range []int{200, 201, 204, 299} {
		if err := Classify(Exchange{Status: s}, "post x", "d", now); err != nil {
			t.Errorf("Classify(%d) = %v, want nil", s, err)
		}
	}
}

func TestFailureUnwraps(t *testing.T) {
	f := &Failure{Err: context.Canceled}
	var err error = f
	if err.Error() != context.Canceled.Error() || !errors.Is(err, context.Canceled) {
		t.Fatalf("Failure = %v, want it to be and say its Err", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"", 0},
		{"99999999999999999", MaxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(30 * 24 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := RetryAfter(tc.in, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		in      string
		secrets []string
		want    string
	}{
		{"no secret here", []string{"", "zz"}, "no secret here"},
		{"bad token s3cr3t and s3cr3t", []string{"s3cr3t"}, "bad token [redacted] and [redacted]"},
		{`{"access_token":"a","Refresh_Token" : "b","x":"c"}`, nil, `{"access_token":"[redacted]","Refresh_Token" : "[redacted]","x":"c"}`},
		{`{"corpAccessToken":"CAT","appSecret":"A","permanentCode":"P","client_secret":"C"}`, nil,
			`{"corpAccessToken":"[redacted]","appSecret":"[redacted]","permanentCode":"[redacted]","client_secret":"[redacted]"}`},
		{"echo refresh_token=abc&client_secret=def x access_token=ghi", nil,
			"echo refresh_token=[redacted]&client_secret=[redacted] x access_token=[redacted]"},
		{`"echo":"refresh_token=abc&x=1"`, nil, `"echo":"refresh_token=[redacted]&x=1"`},
	} {
		if got := Redact(tc.in, tc.secrets); got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"short", "ok", 10, "ok"},
		{"cut ascii", "abcdef", 3, "abc"},
		{"no half rune", "ab€", 4, "ab"}, // € is 3 bytes
		{"whole rune fits", "ab€", 5, "ab€"},
		{"invalid byte replaced", "a\xffb", 10, "a\uFFFDb"},
		{"replacement counted", "a\xff", 3, "a"},
		{"nul dropped", "a\x00b", 10, "ab"},
		{"empty", "", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Excerpt([]byte(tc.in), tc.limit)
			if got != tc.want || len(got) > tc.limit || !utf8.ValidString(got) {
				t.Fatalf("Excerpt(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	secrets := []string{"s3cr3t"}
	ok := Exchange{Status: 200, Body: []byte(`{"ok":true,"t":"s3cr3t"}`)}
	if out := Outcome(ok, nil, secrets); out.Err != nil || out.Status != 200 || out.Response != `{"ok":true,"t":"[redacted]"}` {
		t.Errorf("accepted outcome = %+v", out)
	}

	// The failure's exchange wins over the last one; its hints are kept.
	f := &Failure{Err: errors.New("post x: http 429: token s3cr3t"), Ex: Exchange{Status: 429, Body: []byte("slow")}, RetryAfter: time.Second}
	out := Outcome(ok, errors.Join(f), secrets)
	if out.Status != 429 || out.Response != "slow" || out.RetryAfter != time.Second || out.Permanent ||
		out.Err.Error() != "post x: http 429: token [redacted]" {
		t.Errorf("failure outcome = %+v", out)
	}

	// A failure without an answer keeps the exchange given.
	out = Outcome(ok, &Failure{Err: errors.New("mapping"), Permanent: true}, secrets)
	if out.Status != 200 || !out.Permanent || out.Err.Error() != "mapping" {
		t.Errorf("permanent outcome = %+v", out)
	}

	// A plain error is retryable and, with nothing to redact, kept as it is.
	plain := context.DeadlineExceeded
	if out := Outcome(Exchange{}, plain, secrets); out.Err != plain || out.Status != 0 || out.Response != "" || out.Permanent {
		t.Errorf("plain outcome = %+v", out)
	}

	// The excerpt is bounded, and redacted before it is cut.
	long := Exchange{Status: 500, Body: []byte(strings.Repeat("a", jobs.MaxResponseExcerpt-3) + "s3cr3t")}
	if out := Outcome(long, nil, secrets); len(out.Response) > jobs.MaxResponseExcerpt || strings.Contains(out.Response, "s3c") {
		t.Errorf("long excerpt leaks or is too long: %d bytes ending %q", len(out.Response), out.Response[len(out.Response)-5:])
	}
}
