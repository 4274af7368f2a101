package webhook

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tierflow/tierflow/jobs"
)

// maxRetryAfter bounds the wait a receiver can ask for.
const maxRetryAfter = 7 * 24 * time.Hour

// classify turns a receiver's answer into an outcome: 2xx is accepted;
// 4xx other than 408, 409, 425 and 429 is permanent; the rest (3xx, as
// redirects are not followed, and 5xx) is retried.
func classify(status int, h http.Header, excerpt string, now time.Time) jobs.DeliveryOutcome {
	out := jobs.DeliveryOutcome{Status: status, Response: excerpt}
	if status >= 200 && status < 300 {
		return out
	}
	out.Err = fmt.Errorf("webhook: receiver answered %d %s", status, http.StatusText(status))
	switch {
	case status >= 300 && status < 400:
		out.Err = fmt.Errorf("webhook: receiver answered %d %s; redirects are not followed, configure the final url", status, http.StatusText(status))
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		out.RetryAfter = retryAfter(h.Get("Retry-After"), now)
	case status >= 400 && status < 500:
		switch status {
		case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly:
		default:
			out.Permanent = true
		}
	}
	return out
}

// retryAfter reads a Retry-After value, delay-seconds or an HTTP date;
// 0 when it is absent, unreadable or in the past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}

// excerpt is at most limit bytes of valid UTF-8 from the start of b,
// cut on a character boundary, with invalid bytes as U+FFFD and NUL
// bytes dropped (text columns refuse them).
func excerpt(b []byte, limit int) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r == 0 {
			continue
		}
		if sb.Len()+utf8.RuneLen(r) > limit {
			break
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
