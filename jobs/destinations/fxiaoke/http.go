package fxiaoke

// This file is kept identical (but for the package clause) in
// jobs/destinations/zoho.

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

// maxBody bounds how much of a response is read.
const maxBody = 1 << 20

// exchange is one HTTP request's answer.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// failure is an error with what the outcome needs to know about it.
type failure struct {
	err        error
	ex         exchange
	retryAfter time.Duration
	permanent  bool
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// post sends one request and reads (a bounded part of) its answer.
func post(ctx context.Context, c *http.Client, url, contentType string, body []byte, header http.Header) (exchange, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return exchange{}, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return exchange{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	ex := exchange{status: resp.StatusCode, header: resp.Header, body: b}
	if err != nil {
		return ex, fmt.Errorf("read response: %w", err)
	}
	return ex, nil
}

// classify turns a non-2xx status into a failure: 429 and 503 carry
// Retry-After; 5xx, 408, 401 and 403 are worth retrying (a server
// hiccup, credentials an operator can fix); other 4xx are permanent.
func classify(ex exchange, what string, detail string, now time.Time) error {
	if ex.status >= 200 && ex.status < 300 {
		return nil
	}
	msg := fmt.Sprintf("%s: http %d", what, ex.status)
	if detail != "" {
		msg += ": " + detail
	}
	f := &failure{err: errors.New(msg), ex: ex}
	switch {
	case ex.status == http.StatusTooManyRequests || ex.status == http.StatusServiceUnavailable:
		f.retryAfter = retryAfter(ex.header.Get("Retry-After"), now)
	case ex.status >= 500, ex.status == http.StatusRequestTimeout,
		ex.status == http.StatusUnauthorized, ex.status == http.StatusForbidden:
	case ex.status >= 400:
		f.permanent = true
	}
	return f
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// secretKeys are JSON keys and query parameters whose values are always
// removed from excerpts and errors, whatever their value.
var secretKeys = regexp.MustCompile(`(?i)("(?:access_token|refresh_token|client_secret|corpAccessToken|appSecret|permanentCode)"\s*:\s*)"[^"]*"|\b(access_token|refresh_token|client_secret|corpAccessToken|appSecret|permanentCode)=[^&\s"]*`)

const redacted = "[redacted]"

// redact removes every secret from s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return secretKeys.ReplaceAllStringFunc(s, func(m string) string {
		if i := strings.IndexByte(m, '='); i >= 0 && !strings.HasPrefix(m, `"`) {
			return m[:i+1] + redacted
		}
		i := strings.LastIndexByte(m[:len(m)-1], '"')
		return m[:i] + `"` + redacted + `"`
	})
}

// excerpt is a redacted response body cut to jobs.MaxResponseExcerpt
// bytes on a character boundary.
func excerpt(body []byte, secrets []string) string {
	s := redact(string(body), secrets)
	if len(s) <= jobs.MaxResponseExcerpt {
		return s
	}
	s = s[:jobs.MaxResponseExcerpt]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// outcome builds the attempt's outcome from the last exchange and error,
// with every secret removed.
func outcome(ex exchange, err error, secrets []string) jobs.DeliveryOutcome {
	var f *failure
	if errors.As(err, &f) && f.ex.status != 0 {
		ex = f.ex
	}
	out := jobs.DeliveryOutcome{Status: ex.status, Response: excerpt(ex.body, secrets)}
	if err == nil {
		return out
	}
	out.Err = err
	if msg := err.Error(); redact(msg, secrets) != msg {
		out.Err = errors.New(redact(msg, secrets))
	}
	if f != nil {
		out.RetryAfter, out.Permanent = f.retryAfter, f.permanent
	}
	return out
}
