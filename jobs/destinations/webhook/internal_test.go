package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The Standard Webhooks reference libraries' signing vector.
func TestSignatureKnownVector(t *testing.T) {
	key, err := parseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := signature([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := excerpt([]byte(tc.in), tc.limit)
			if got != tc.want || len(got) > tc.limit || !utf8.ValidString(got) {
				t.Fatalf("excerpt(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
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
		{"99999999999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.in, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestMessageIDHasNoFullStop(t *testing.T) {
	key := "rs/winback_call/cust.42/2026-03-01T12:00:00.5Z"
	id := MessageID(key)
	if strings.ContainsAny(id, ". ") || id != MessageID(key) || id == MessageID(key+"x") || len(id) != 36 {
		t.Fatalf("MessageID(%q) = %q", key, id)
	}
}
