package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock, either way, when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

const (
	secretPrefix = "whsec_"
	// The specification's bounds on a symmetric signing secret.
	minSecretBytes = 24
	maxSecretBytes = 64
	sigVersion     = "v1"
)

// Errors Verify returns (wrapped, so test with errors.Is).
var (
	ErrMissingHeader    = errors.New("missing header")
	ErrBadTimestamp     = errors.New("webhook-timestamp is not unix seconds")
	ErrTooOld           = errors.New("webhook-timestamp too old")
	ErrTooNew           = errors.New("webhook-timestamp too new")
	ErrNoMatchingSecret = errors.New("no signature matches the secret")
)

// parseSecret returns the HMAC key of a "whsec_" secret: the base64
// decoding of what follows the prefix. Its errors never quote the secret.
func parseSecret(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("does not start with %q", secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
			return nil, fmt.Errorf("the part after %q is not base64", secretPrefix)
		}
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, fmt.Errorf("decodes to %d bytes, want %d to %d", len(key), minSecretBytes, maxSecretBytes)
	}
	return key, nil
}

// mac is HMAC-SHA256(key, id + "." + timestamp + "." + body).
func mac(key []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// signature is the webhook-signature value: "v1,<base64>" per key,
// space-separated.
func signature(keys [][]byte, id, timestamp string, body []byte) string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = sigVersion + "," + base64.StdEncoding.EncodeToString(mac(k, id, timestamp, body))
	}
	return strings.Join(sigs, " ")
}

// MessageID is the webhook-id (and the body's "id") of the action with
// idempotency key key: stable across attempts, so receivers de-duplicate
// on it. The key itself holds the customer key and a timestamp with a
// full stop, and the specification wants an id with neither user data
// nor a '.', so the id is "act_" and 32 hex digits of the key's SHA-256.
func MessageID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "act_" + hex.EncodeToString(sum[:16])
}

// Verify checks a received webhook the way a receiver should: the three
// headers are present, webhook-timestamp is within tolerance of now
// (DefaultTolerance when tolerance is 0 or less), and one of the v1
// signatures is the HMAC of id.timestamp.body under secret, compared in
// constant time. body must be the raw bytes received, not re-encoded
// JSON. Errors never quote the secret.
func Verify(secret string, headers http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := parseSecret(secret)
	if err != nil {
		return fmt.Errorf("webhook: verify: secret %w", err)
	}
	id, ts, sigs := headers.Get(HeaderID), headers.Get(HeaderTimestamp), headers.Get(HeaderSignature)
	for _, h := range [][2]string{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if h[1] == "" {
			return fmt.Errorf("webhook: verify: %w %s", ErrMissingHeader, h[0])
		}
	}
	if err := checkTimestamp(ts, now, tolerance); err != nil {
		return fmt.Errorf("webhook: verify: %w", err)
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, enc, ok := strings.Cut(s, ",")
		if !ok || version != sigVersion {
			continue // another scheme (v1a) or noise: not ours to judge
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("webhook: verify: %w", ErrNoMatchingSecret)
}

func checkTimestamp(ts string, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	sent := time.Unix(secs, 0)
	switch {
	case now.Sub(sent) > tolerance:
		return fmt.Errorf("%w: sent %s before now, tolerance %s", ErrTooOld, now.Sub(sent).Round(time.Second), tolerance)
	case sent.Sub(now) > tolerance:
		return fmt.Errorf("%w: sent %s after now, tolerance %s", ErrTooNew, sent.Sub(now).Round(time.Second), tolerance)
	}
	return nil
}
