package kernel

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// QuoteIdent quotes an SQL identifier; both dialects use double quotes.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral quotes an SQL string literal.
func QuoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// SourceSQL returns the SQL that yields a facts source's rows: the query
// itself, or SELECT * FROM a bare table or view name (schema.table).
func SourceSQL(query string) (string, error) {
	q := strings.TrimRight(strings.TrimSpace(query), ";")
	if q == "" {
		return "", fmt.Errorf("the facts source is empty: give a SQL query or a table name")
	}
	if !strings.ContainsAny(q, " \n\t") {
		parts := strings.Split(q, ".")
		for i, p := range parts {
			parts[i] = QuoteIdent(p)
		}
		q = "SELECT * FROM " + strings.Join(parts, ".")
	}
	return q, nil
}

// IdempotencyKey identifies one action for one customer at one as-of
// time; the queue's unique constraint on it makes a retried apply queue
// each action exactly once.
func IdempotencyKey(ruleset, action, customer string, asOf time.Time) string {
	return fmt.Sprintf("%s/%s/%s/%s", ruleset, action, customer, asOf.UTC().Format(time.RFC3339Nano))
}

// Secrets are the parts of a connection string that must never be shown.
type Secrets []string

// SecretsOf returns the whole connection string and its password, in
// URL or key=value form.
func SecretsOf(dsn string) Secrets {
	if dsn == "" {
		return nil
	}
	out := Secrets{dsn}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p, url.QueryEscape(p))
		}
	}
	for _, field := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(field, "password="); ok && v != "" {
			out = append(out, strings.Trim(v, "'"))
		}
	}
	return out
}

// Text removes the secrets from text.
func (s Secrets) Text(text string) string {
	for _, secret := range s {
		if len(secret) >= 3 {
			text = strings.ReplaceAll(text, secret, "[REDACTED]")
		}
	}
	return text
}

// Err removes the secrets from an error's text, keeping it unwrappable.
func (s Secrets) Err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := s.Text(msg); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
