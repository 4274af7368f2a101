package destkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tierflow/tierflow/jobs"
)

// MaxBody bounds how much of a response Post reads.
const MaxBody = 1 << 20

// MaxRetryAfter bounds the wait an answer's Retry-After can ask for.
const MaxRetryAfter = 7 * 24 * time.Hour

// Exchange is one HTTP request's answer.
type Exchange struct {
	Status int
	Header http.Header
	Body   []byte
}

// Failure is an error with what Outcome needs to know about it: the
// answer it came with (Ex.Status 0: none), the wait the server asked for
// and whether retrying is pointless.
type Failure struct {
	Err        error
	Ex         Exchange
	RetryAfter time.Duration
	Permanent  bool
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Post sends one POST with body, contentType, Accept: application/json
// and the extra header, and reads (at most MaxBody of) its answer. A
// transport error returns an empty Exchange; a body that breaks off
// returns what was read with the error.
func Post(ctx context.Context, c *http.Client, url, contentType string, body []byte, header http.Header) (Exchange, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Exchange{}, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return Exchange{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	ex := Exchange{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if err != nil {
		return ex, fmt.Errorf("read response: %w", err)
	}
	return ex, nil
}

// Classify is nil for a 2xx answer and otherwise a *Failure whose
// message is "what: http STATUS[: detail]": 429 and 503 carry
// Retry-After; 5xx, 408, 401 and 403 are worth retrying (a server
// hiccup, credentials an operator can fix); other 4xx are permanent.
func Classify(ex Exchange, what string, detail string, now time.Time) error {
	if ex.Status >= 200 && ex.Status < 300 {
		return nil
	}
	msg := fmt.Sprintf("%s: http %d", what, ex.Status)
	if detail != "" {
		msg += ": " + detail
	}
	f := &Failure{Err: errors.New(msg), Ex: ex}
	switch {
	case ex.Status == http.StatusTooManyRequests || ex.Status == http.StatusServiceUnavailable:
		f.RetryAfter = RetryAfter(ex.Header.Get("Retry-After"), now)
	case ex.Status >= 500, ex.Status == http.StatusRequestTimeout,
		ex.Status == http.StatusUnauthorized, ex.Status == http.StatusForbidden:
	case ex.Status >= 400:
		f.Permanent = true
	}
	return f
}

// RetryAfter reads a Retry-After value, delay-seconds or an HTTP date,
// as a wait from now of at most MaxRetryAfter; 0 when it is absent,
// unreadable or in the past.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter)
}

// secretKeys are JSON keys and query parameters whose values are always
// removed from excerpts and errors, whatever their value.
var secretKeys = regexp.MustCompile(`(?i)("(?:access_token|refresh_token|client_secret|corpAccessToken|appSecret|permanentCode)"\s*:\s*)"[^"]*"|\b(access_token|refresh_token|client_secret|corpAccessToken|appSecret|permanentCode)=[^&\s"]*`)

// Redacted replaces every secret Redact removes.
const Redacted = "[redacted]"

// Redact removes from s every occurrence of the (non-empty) secrets and
// the value of every well-known secret JSON key or query parameter
// (access_token, refresh_token, client_secret, corpAccessToken,
// appSecret, permanentCode).
func Redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return secretKeys.ReplaceAllStringFunc(s, func(m string) string {
		if i := strings.IndexByte(m, '='); i >= 0 && !strings.HasPrefix(m, `"`) {
			return m[:i+1] + Redacted
		}
		i := strings.LastIndexByte(m[:len(m)-1], '"')
		return m[:i] + `"` + Redacted + `"`
	})
}

// Excerpt is at most limit bytes of valid UTF-8 from the start of b,
// cut on a character boundary, with invalid bytes as U+FFFD and NUL
// bytes dropped (text columns refuse them).
func Excerpt(b []byte, limit int) string {
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

// Outcome builds an attempt's outcome from its last exchange and error
// (the exchange of a *Failure in err wins): the status, a redacted
// Excerpt of the body (jobs.MaxResponseExcerpt bytes), the error with
// every secret removed, and a Failure's RetryAfter and Permanent.
func Outcome(ex Exchange, err error, secrets []string) jobs.DeliveryOutcome {
	var f *Failure
	if errors.As(err, &f) && f.Ex.Status != 0 {
		ex = f.Ex
	}
	out := jobs.DeliveryOutcome{Status: ex.Status, Response: Excerpt([]byte(Redact(string(ex.Body), secrets)), jobs.MaxResponseExcerpt)}
	if err == nil {
		return out
	}
	out.Err = err
	if msg := err.Error(); Redact(msg, secrets) != msg {
		out.Err = errors.New(Redact(msg, secrets))
	}
	if f != nil {
		out.RetryAfter, out.Permanent = f.RetryAfter, f.Permanent
	}
	return out
}
