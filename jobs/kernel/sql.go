package kernel

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
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

// SecretsOf returns what must be removed from any text that might quote
// the connection string dsn: the string itself, its raw userinfo (user
// name and password, as written), and every password in it, decoded, as
// written and each word of one that has spaces, each also as Go quotes
// it. It works on strings that cannot be parsed too (CheckDSN tells those
// apart), so that whatever a driver echoes of one is removed.
func SecretsOf(dsn string) Secrets {
	if dsn == "" {
		return nil
	}
	var c secretSet
	c.add(dsn)
	if rest, ok := anyURLRest(dsn); ok {
		c.fromURL(dsn, rest)
	} else {
		c.fromKeywords(dsn)
	}
	slices.SortStableFunc(c.out, longerFirst)
	return c.out
}

// secretSet collects the secrets of one connection string.
type secretSet struct{ out Secrets }

// add adds s as written, as URLs escape it and as %q quotes it.
func (c *secretSet) add(s string) {
	for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s), quoted(s)} {
		if len(v) >= minSecret && !slices.Contains(c.out, v) {
			c.out = append(c.out, v)
		}
	}
}

// addPassword adds a password whole and in pieces: each word of one with
// spaces, and what a /, ? or # cuts it into, which a URL parser may quote.
func (c *secretSet) addPassword(p string) {
	c.add(p)
	for _, w := range strings.FieldsFunc(p, isPasswordCut) {
		c.add(w)
	}
}

// fromURL adds the raw userinfo of a URL with a password, and the
// password, as written and decoded, and the password settings of its
// query. A user name alone is not a secret, and redacting it would cut
// up messages: the user postgres out of /usr/lib/postgresql.
func (c *secretSet) fromURL(dsn, rest string) {
	if info, ok := rawUserinfo(rest); ok {
		if _, raw, ok := strings.Cut(info, ":"); ok {
			c.add(info)
			c.addPassword(raw)
			if p, err := url.PathUnescape(raw); err == nil {
				c.addPassword(p)
			}
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return
	}
	if p, ok := u.User.Password(); ok {
		c.addPassword(p)
	}
	for k, vs := range u.Query() {
		if isPasswordKey(k) {
			for _, v := range vs {
				c.addPassword(v)
			}
		}
	}
}

// fromKeywords adds the password settings of key=value settings, as
// lib/pq reads them and, whatever it makes of them, the words that follow
// password= up to the next key=value: `password=two words` is an error
// that names the second word.
func (c *secretSet) fromKeywords(dsn string) {
	pairs, _ := parseKeywordDSN(dsn)
	for _, p := range pairs {
		switch {
		case isPasswordKey(p.key):
			c.addPassword(p.value)
		case p.key == "" || strings.IndexFunc(p.key, notNameRune) >= 0:
			// No setting has such a name: it is likely part of a password
			// that was not quoted.
			c.addPassword(p.key)
			c.addPassword(p.value)
		}
	}
	fields := strings.Fields(dsn)
	for i, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || !isPasswordKey(k) {
			continue
		}
		words := []string{strings.Trim(v, "'")}
		for _, w := range fields[i+1:] {
			if strings.Contains(w, "=") {
				break
			}
			words = append(words, strings.Trim(w, "'"))
		}
		c.addPassword(strings.Join(words, " "))
	}
}

// isPasswordCut reports whether r splits a password into the pieces
// that messages may quote alone.
func isPasswordCut(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune("/?#", r) }

// anyURLRest returns what follows the scheme of a connection string
// written as a URL, whatever its scheme, for finding its secrets; lib/pq
// reads as URLs only those urlRest accepts.
func anyURLRest(dsn string) (string, bool) {
	i := strings.Index(dsn, "://")
	if i <= 0 || strings.IndexFunc(dsn[:i], unicode.IsSpace) >= 0 || strings.Contains(dsn[:i], "=") {
		return "", false
	}
	return dsn[i+3:], true
}

// minSecret is the length under which a secret is not removed: shorter
// strings would blank out unrelated text.
const minSecret = 3

// quoted is s as %q writes it inside the quotes.
func quoted(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// isPasswordKey reports whether a connection setting holds a password.
func isPasswordKey(k string) bool { return strings.Contains(strings.ToLower(k), "password") }

// Text removes the secrets from text, the longest first so that a
// password inside the whole connection string goes with it.
func (s Secrets) Text(text string) string {
	if !slices.IsSortedFunc(s, longerFirst) {
		s = slices.Clone(s)
		slices.SortStableFunc(s, longerFirst)
	}
	for _, secret := range s {
		if len(secret) >= minSecret {
			text = strings.ReplaceAll(text, secret, "[REDACTED]")
		}
	}
	return text
}

func longerFirst(a, b string) int { return len(b) - len(a) }

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

// DSNError is a connection string that cannot be read. Its message says
// what is wrong in words: it never quotes the string, any part of which
// may be a password.
type DSNError struct{ msg string }

func (e *DSNError) Error() string { return e.msg }

func urlError(problem string) error {
	return &DSNError{"the database URL is not a valid URL: " + problem}
}

func keywordError(problem string) error {
	return &DSNError{"the database connection string is not valid key=value settings: " + problem}
}

// CheckDSN checks that a PostgreSQL connection string reads the way
// lib/pq reads it and means what it seems to: a postgres:// or
// postgresql:// URL, or key=value settings (quoted with '...' and escaped
// with \ as libpq does). It is called before the string goes to the
// driver, whose parse errors quote it. The error is a *DSNError.
func CheckDSN(dsn string) error {
	if rest, ok := urlRest(dsn); ok {
		return checkURL(dsn, rest)
	}
	pairs, err := parseKeywordDSN(dsn)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		switch {
		case strings.Contains(p.key, "://"):
			return urlError("a database URL starts with postgres:// or postgresql://, in lower case")
		case p.key == "":
			return keywordError("a setting has no name (an = with nothing before it)")
		case strings.IndexFunc(p.key, notNameRune) >= 0:
			return keywordError("a setting's name holds characters no setting has: quote a value that holds spaces or quotes, as in password='two words', and write ' and \\ in it as \\' and \\\\")
		}
	}
	return nil
}

func notNameRune(r rune) bool {
	return !(r == '_' || r == '.' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
}

// urlRest returns what follows the scheme of a connection string that
// lib/pq reads as a URL.
func urlRest(dsn string) (string, bool) {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if rest, ok := strings.CutPrefix(dsn, scheme); ok {
			return rest, true
		}
	}
	return "", false
}

// hostEnd is where a URL's host part ends: at the first /, ? or #; -1
// when it runs to the end.
func hostEnd(rest string) int { return strings.IndexAny(rest, "/?#") }

// misplacedAt reports whether the @ that ends a URL's userinfo comes
// after the end of its host part: a /, ? or # in the password ended it
// early. An @ in a query value (?user=a@b) is told apart by the = or &
// before it.
func misplacedAt(rest string) bool {
	at, end := strings.LastIndex(rest, "@"), hostEnd(rest)
	return end >= 0 && at > end && !strings.ContainsAny(rest[end:at], "=&")
}

// rawUserinfo returns a URL's user name and password as written, before
// the @ that ends them, wherever a misplaced character put that @.
func rawUserinfo(rest string) (string, bool) {
	if misplacedAt(rest) {
		return rest[:strings.LastIndex(rest, "@")], true
	}
	host := rest
	if end := hostEnd(rest); end >= 0 {
		host = rest[:end]
	}
	at := strings.LastIndex(host, "@")
	if at < 0 {
		return "", false
	}
	return rest[:at], true
}

func checkURL(dsn, rest string) error {
	const encode = "percent-encode them (/ as %2F, ? as %3F, # as %23), or use the key=value form (password='...')"
	if misplacedAt(rest) {
		return urlError("the user name or password holds a /, ? or #, which end the host part of a URL: " + encode)
	}
	if _, err := url.Parse(dsn); err != nil {
		var ue *url.Error
		msg := err.Error()
		if errors.As(err, &ue) {
			msg = ue.Err.Error()
		}
		switch {
		case strings.Contains(msg, "control character"):
			return urlError("it holds a tab, a line break or another control character: percent-encode it (a tab as %09), or use the key=value form (password='...')")
		case strings.Contains(msg, "invalid userinfo"):
			return urlError(`the user name or password holds a character that must be percent-encoded in a URL, such as \, " or a space: encode it (\ as %5C, " as %22, a space as %20), or use the key=value form (password='...')`)
		case strings.Contains(msg, "invalid URL escape"):
			return urlError("a % is not followed by two hexadecimal digits: write a % itself as %25")
		case strings.Contains(msg, "invalid port"):
			return urlError("the port is not a number; if the password holds a /, ? or #, " + encode)
		}
		return urlError("it cannot be read as a URL; if the user name or password holds a special character such as /, ?, #, % or \\, percent-encode it, or use the key=value form (password='...')")
	}
	if strings.Contains(dsn, "#") {
		return urlError("a # ends a URL (it starts a fragment, which a database URL has none of): write a # in the password as %23")
	}
	return nil
}

// dsnPair is one setting of a key=value connection string.
type dsnPair struct{ key, value string }

// parseKeywordDSN reads key=value settings as lib/pq does (after libpq's
// conninfo_parse): values end at white space unless quoted with '...',
// and a backslash escapes the next character. It returns the settings
// read before an error too, so that a password is known even then.
func parseKeywordDSN(dsn string) ([]dsnPair, error) {
	s := []rune(dsn)
	i := 0
	skipSpaces := func() {
		for i < len(s) && unicode.IsSpace(s[i]) {
			i++
		}
	}
	var pairs []dsnPair
	for {
		skipSpaces()
		if i >= len(s) {
			return pairs, nil
		}
		start := i
		for i < len(s) && !unicode.IsSpace(s[i]) && s[i] != '=' {
			i++
		}
		key := string(s[start:i])
		skipSpaces()
		if i >= len(s) || s[i] != '=' {
			return pairs, missingEquals(pairs, key)
		}
		i++
		skipSpaces()
		var val []rune
		switch {
		case i >= len(s):
		case s[i] != '\'':
			for i < len(s) && !unicode.IsSpace(s[i]) {
				if s[i] == '\\' {
					if i++; i >= len(s) {
						return append(pairs, dsnPair{key, string(val)}), keywordError("it ends with a backslash, which escapes the character after it: write a backslash in a value as \\\\")
					}
				}
				val = append(val, s[i])
				i++
			}
		default:
			for i++; ; i++ {
				if i >= len(s) {
					return append(pairs, dsnPair{key, string(val)}), keywordError("a quoted value has no closing quote: write a ' inside a value as \\'")
				}
				r := s[i]
				if r == '\'' {
					i++
					break
				}
				if r == '\\' && i+1 < len(s) {
					i++
					r = s[i]
				}
				val = append(val, r)
			}
		}
		pairs = append(pairs, dsnPair{key, string(val)})
	}
}

// missingEquals explains a word with no = after the settings pairs,
// naming the setting before it only when it is one lib/pq knows (any
// other word could be part of a password).
func missingEquals(pairs []dsnPair, key string) error {
	if len(pairs) == 0 {
		if strings.Contains(key, "://") {
			return urlError("a database URL starts with postgres:// or postgresql://, in lower case")
		}
		return keywordError("it is neither a URL (postgres://user@host/db) nor key=value settings (host=db user=app dbname=crm)")
	}
	name := "a setting"
	if prev := pairs[len(pairs)-1].key; slices.Contains(knownKeys, prev) {
		name = prev
	}
	return keywordError("a word after the value of " + name + " has no =: quote a value that holds spaces, as in password='two words'")
}

// knownKeys are the settings lib/pq reads from a connection string.
var knownKeys = []string{
	"host", "hostaddr", "port", "dbname", "database", "user", "password", "passfile", "options",
	"application_name", "fallback_application_name", "sslmode", "sslnegotiation", "sslcert", "sslkey",
	"sslrootcert", "sslsni", "ssl_min_protocol_version", "ssl_max_protocol_version", "sslinline",
	"krbsrvname", "krbspn", "connect_timeout", "binary_parameters", "disable_prepared_binary_result",
	"client_encoding", "datestyle", "tz", "geqo", "target_session_attrs", "load_balance_hosts",
	"min_protocol_version", "max_protocol_version", "service",
}
