package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/internal/report"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// reportPath is the route of the class report on serve's HTTP server.
const reportPath = "/report"

// reportAccessConfig is serve.report in tierflow.yaml: the bearer token
// that GET /report asks for, read from an environment variable or a file,
// never from the config. With neither set the report is open to anyone
// who reaches serve.listen.
//
//	serve:
//	  report:
//	    token_file: /run/secrets/tierflow-report   # or token_env: TIERFLOW_REPORT_TOKEN
type reportAccessConfig struct {
	TokenEnv  string // token_env: the variable holding the token(s)
	TokenFile string // token_file: a file holding them, relative to the config
}

// guarded reports whether the report asks for a token.
func (rc reportAccessConfig) guarded() bool { return rc.TokenEnv != "" || rc.TokenFile != "" }

// reportAccess reads serve.report, refusing a literal token as
// serve.outcomes does.
func (r *configReader) reportAccess(n *yaml.Node) reportAccessConfig {
	const field = "serve.report"
	m, ok := r.Mapping(n, field, "token_env", "token_file", "token")
	if !ok || !present(n) {
		return reportAccessConfig{}
	}
	const never = "a token never goes in the config"
	rc := reportAccessConfig{TokenEnv: r.String(m["token_env"], field+".token_env"), TokenFile: r.String(m["token_file"], field+".token_file")}
	switch {
	case m["token"] != nil:
		r.Errorf(m["token"], field+".token", "put it in an environment variable and name it with token_env, or in a file named by token_file", never)
	case rc.TokenEnv != "" && !envName.MatchString(rc.TokenEnv):
		r.Errorf(m["token_env"], field+".token_env", "set token_env to the name of the environment variable that holds it, such as TIERFLOW_REPORT_TOKEN", "%s; this is not a variable's name", never)
	case rc.TokenEnv != "" && rc.TokenFile != "":
		r.Errorf(m["token_file"], field+".token_file", "keep one: token_env names an environment variable, token_file a file holding the token", "token_env and token_file are both set")
	case !rc.guarded():
		r.Errorf(n, field, "name the environment variable (token_env) or the file (token_file) that holds the report's bearer token, or leave serve.report out to keep /report open on serve.listen",
			"serve.report needs token_env or token_file")
	}
	return rc
}

// reportTokens reads the report's tokens from where serve.report names
// them: one, or several separated by spaces or new lines while rotating.
// Errors name where they looked, never what they found.
func (c *config) reportTokens(getenv func(string) string) ([]string, error) {
	rc := c.Serve.Report
	const field = "serve.report"
	var raw, where string
	if rc.TokenFile != "" {
		b, err := os.ReadFile(c.relative(rc.TokenFile))
		if err != nil {
			return nil, fmt.Errorf("%s.token_file: %w", field, err)
		}
		raw, where = string(b), rc.TokenFile
	} else {
		raw, where = getenv(rc.TokenEnv), "$"+rc.TokenEnv
	}
	tokens := strings.Fields(raw)
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s: %s holds no token: put one there (e.g. the output of openssl rand -hex 32; two, space-separated, while rotating)", field, where)
	}
	for i, t := range tokens {
		if len(t) < minTokenLength {
			return nil, fmt.Errorf("%s: token %d of %s is shorter than %d characters: use a random one (openssl rand -hex 32)", field, i+1, where, minTokenLength)
		}
	}
	return tokens, nil
}

// reportHandler serves GET /report: the list of the rule sets serve
// runs, and with ?ruleset=NAME the class report of one, built from the
// state store at each request (read only).
type reportHandler struct {
	src jobs.ReportSource
	// names are the rule sets serve runs, in config order; ruleSet
	// returns one as reloaded.
	names   []string
	ruleSet func(string) *rules.RuleSet
	// digests are the SHA-256 of the accepted tokens; none leaves the
	// report open.
	digests [][sha256.Size]byte
	now     func() time.Time
	logger  *slog.Logger
	redact  func(string) string
}

// reportEndpoint makes serve's /report handler, guarded by a token when
// serve.report names one.
func (a *app) reportEndpoint(cfg *config, w *wiring, names []string, ruleSet func(string) *rules.RuleSet, logger *slog.Logger) (*reportHandler, error) {
	src, ok := w.state.(jobs.ReportSource)
	if !ok {
		return nil, errNoReportSource
	}
	h := &reportHandler{src: src, names: names, ruleSet: ruleSet, now: a.now, logger: logger, redact: w.Redact}
	rc := cfg.Serve.Report
	if !rc.guarded() {
		return h, nil
	}
	tokens, err := cfg.reportTokens(a.getenv)
	if err != nil {
		return nil, err
	}
	h.digests = tokenDigests(tokens)
	from := "$" + rc.TokenEnv
	if rc.TokenFile != "" {
		from = rc.TokenFile
	}
	logger.Info("class report needs a token", "path", "GET "+reportPath, "token_from", from, "tokens", len(tokens))
	return h, nil
}

func (h *reportHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the report is read only: GET it", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		// Basic lets a browser ask for the token (as the password, with any
		// user name); Bearer is for scripts.
		w.Header().Set("WWW-Authenticate", `Basic realm="tierflow report", charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", `Bearer realm="tierflow report"`)
		h.logger.Warn("report request refused: no valid token", "path", r.URL.Path, "remote", r.RemoteAddr)
		http.Error(w, "the report needs the token serve.report names: send Authorization: Bearer TOKEN, or give it as the password when the browser asks", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	name := q.Get("ruleset")
	if name == "" {
		h.index(w)
		return
	}
	rs := h.ruleSet(name)
	if rs == nil {
		http.Error(w, fmt.Sprintf("serve runs no rule set %q; it runs %s (%s lists them)", name, strings.Join(h.names, ", "), reportPath), http.StatusNotFound)
		return
	}
	p, err := parseReportPeriod(orDefault(q.Get("since"), "90d"), q.Get("until"), orDefault(q.Get("period"), "30d"))
	if err != nil {
		http.Error(w, strings.NewReplacer("--since", "since", "--until", "until", "--period", "period").Replace(err.Error()), http.StatusBadRequest)
		return
	}
	now := h.now()
	rep, err := jobs.BuildClassReport(r.Context(), h.src, rs, p.options(rs, now))
	if err != nil {
		h.logger.Error("class report failed", "ruleset", name, "error", h.redact(err.Error()))
		http.Error(w, "the report could not be built; serve's log says why", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, report.Page{Reports: []*jobs.ClassReport{rep}, Generated: now, Version: versionString(), Index: "report"}); err != nil {
		h.logger.Error("class report failed", "ruleset", name, "error", err.Error())
		http.Error(w, "the report could not be written; serve's log says why", http.StatusInternalServerError)
		return
	}
	writePage(w, buf.Bytes())
}

// index lists the rule sets with links to their reports.
func (h *reportHandler) index(w http.ResponseWriter) {
	var entries []report.IndexEntry
	for _, n := range h.names {
		// Relative, so that the links work behind a proxy that serves
		// /report under a prefix of its own.
		e := report.IndexEntry{Name: n, Href: "report?ruleset=" + url.QueryEscape(n)}
		if rs := h.ruleSet(n); rs != nil {
			e.Label = rs.Label
		}
		entries = append(entries, e)
	}
	var buf bytes.Buffer
	if err := report.WriteIndex(&buf, entries); err != nil {
		h.logger.Error("report index failed", "error", err.Error())
		http.Error(w, "the index could not be written", http.StatusInternalServerError)
		return
	}
	writePage(w, buf.Bytes())
}

// writePage answers with an HTML page that may run only its own scripts
// and reach nothing outside itself.
func writePage(w http.ResponseWriter, page []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src "+report.ScriptSources()+"; style-src 'unsafe-inline'; img-src data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	_, _ = w.Write(page)
}

// authorized checks the request's token, if the report needs one: a
// Bearer token, or the password of Basic credentials, compared by digest
// in constant time with every accepted token.
func (h *reportHandler) authorized(r *http.Request) bool {
	if len(h.digests) == 0 {
		return true
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	var token string
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token = cred
	case strings.EqualFold(scheme, "Basic"):
		if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
			_, token, _ = strings.Cut(string(b), ":")
		}
	}
	if token == "" {
		return false
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, d := range h.digests {
		match |= subtle.ConstantTimeCompare(got[:], d[:])
	}
	return match == 1
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ruleSetNames are the names of the configured rule sets, in config
// order.
func ruleSetNames(sets []configured) []string {
	names := make([]string, len(sets))
	for i, s := range sets {
		names[i] = s.rs.Name
	}
	return names
}
