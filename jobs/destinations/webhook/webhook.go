package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/internal/destkit"
)

// DefaultTimeout bounds one attempt when Config.Timeout is 0; the
// specification recommends 15 to 30 seconds.
const DefaultTimeout = 15 * time.Second

// drainLimit is how much of a long response is read past the excerpt so
// that the connection can be reused.
const drainLimit = 64 << 10

// Config is one webhook destination.
type Config struct {
	// URL receives the POSTs (http or https).
	URL string
	// Secrets sign every request, each "whsec_" + base64 of 24 to 64
	// random bytes. With several (during key rotation) the request
	// carries one signature per secret, in this order.
	Secrets []string
	// Timeout bounds one attempt, answer included; DefaultTimeout if 0.
	Timeout time.Duration
	// Headers are added to every request (an Authorization, say); they
	// may not set the webhook-* headers, Content-Type, Content-Length or
	// Host.
	Headers map[string]string
	// Client sends the requests; a copy of http.DefaultClient's settings
	// if nil. Redirects are never followed, whatever Client says.
	Client *http.Client
	// Now is the clock for webhook-timestamp and Retry-After dates;
	// time.Now if nil.
	Now func() time.Time
}

// Webhook is a jobs.Destination that POSTs signed JSON. It is safe for
// concurrent use.
type Webhook struct {
	url     string
	keys    [][]byte
	timeout time.Duration
	headers http.Header
	client  *http.Client
	now     func() time.Time
}

var _ jobs.Destination = (*Webhook)(nil)

var reserved = map[string]bool{
	"Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true,
	"Content-Type": true, "Content-Length": true, "Host": true, "Transfer-Encoding": true,
}

// New checks cfg and returns its destination. Errors name the field and
// never quote a secret, a header value or the URL (which may hold a token).
func New(cfg Config) (*Webhook, error) {
	if err := checkURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("webhook: url: %w", err)
	}
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("webhook: secrets: at least one is required")
	}
	w := &Webhook{url: cfg.URL, timeout: cfg.Timeout, headers: http.Header{}, now: cfg.Now}
	for i, s := range cfg.Secrets {
		key, err := parseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("webhook: secrets[%d]: %w", i, err)
		}
		w.keys = append(w.keys, key)
	}
	if w.timeout < 0 {
		return nil, fmt.Errorf("webhook: timeout: %s is negative", w.timeout)
	}
	if w.timeout == 0 {
		w.timeout = DefaultTimeout
	}
	for name, value := range cfg.Headers {
		if err := checkHeader(name, value); err != nil {
			return nil, fmt.Errorf("webhook: headers: %w", err)
		}
		w.headers.Set(name, value)
	}
	client := http.Client{}
	if cfg.Client != nil {
		client = *cfg.Client
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	w.client = &client
	if w.now == nil {
		w.now = time.Now
	}
	return w, nil
}

func checkURL(raw string) error {
	if raw == "" {
		return errors.New("is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("cannot be parsed")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

func checkHeader(name, value string) error {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) {
		return fmt.Errorf("%q is not a header name", name)
	}
	if reserved[http.CanonicalHeaderKey(name)] {
		return fmt.Errorf("%s is set by tierflow", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("%s: the value has a line break or NUL", name)
	}
	return nil
}

// Deliver POSTs d once. The request carries webhook-id (MessageID of the
// idempotency key, the same on every attempt), webhook-timestamp (this
// attempt, unix seconds) and webhook-signature.
func (w *Webhook) Deliver(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
	ev := NewEvent(d)
	body, err := json.Marshal(ev)
	if err != nil {
		return jobs.DeliveryOutcome{Err: fmt.Errorf("webhook: encode action %d: %w", d.ID, err), Permanent: true}
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return jobs.DeliveryOutcome{Err: errors.New("webhook: cannot build the request for the configured url"), Permanent: true}
	}
	for name, values := range w.headers {
		req.Header[name] = values
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tierflow-webhook")
	req.Header.Set(HeaderID, ev.ID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, signature(w.keys, ev.ID, ts, body))

	resp, err := w.client.Do(req)
	if err != nil {
		return jobs.DeliveryOutcome{Err: w.sendError(ctx, err)}
	}
	defer resp.Body.Close()
	buf, err := io.ReadAll(io.LimitReader(resp.Body, jobs.MaxResponseExcerpt+4))
	out := classify(resp.StatusCode, resp.Header, destkit.Excerpt(buf, jobs.MaxResponseExcerpt), w.now())
	if err != nil && out.Err == nil {
		// The receiver answered 2xx and then stalled or broke off: it has
		// the request, but retry rather than guess.
		out.Err = fmt.Errorf("webhook: read answer to %d: %w", resp.StatusCode, w.sendError(ctx, err))
	}
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	return out
}

// sendError describes a failed request without the URL, which
// *url.Error quotes and which may hold a token in its query.
func (w *Webhook) sendError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("webhook: no answer within %s: %w", w.timeout, context.DeadlineExceeded)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("webhook: cancelled: %w", ctx.Err())
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("webhook: post: %w", err)
}
