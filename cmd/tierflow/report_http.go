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
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/report"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// reportPath is the route of the class report on serve's HTTP server.
const reportPath = "/report"

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
	if !rc.configured() {
		return h, nil
	}
	tokens, err := cfg.tokens(rc, a.getenv)
	if err != nil {
		return nil, err
	}
	h.digests = tokenDigests(tokens)
	logger.Info("class report needs a token", "path", "GET "+reportPath, "token_from", rc.from(), "tokens", len(tokens))
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
	fits, err := reportFits(r.Context(), h.src, []*jobs.ClassReport{rep}) // reportfits.go
	if err != nil {
		h.logger.Error("class report failed", "ruleset", name, "error", h.redact(err.Error()))
		http.Error(w, "the report could not be built; serve's log says why", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, report.Page{Reports: []*jobs.ClassReport{rep}, Generated: now, Version: versionString(), Index: "report", Fits: fits}); err != nil {
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
