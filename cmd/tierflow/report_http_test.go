package main

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// reportServer is serve's HTTP handler for the project's rule set, with
// the report guarded by token when it is not empty (serve.report's
// token_env). It logs to p's report log.
func (p *reportProject) reportServer(token string) http.Handler {
	t := p.t
	t.Helper()
	cfg, err := loadConfig(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(io.Discard, io.Discard)
	a.getenv = func(k string) string { return p.env[k] }
	if token != "" {
		cfg.Serve.Report = tokenConfig{TokenEnv: "REPORT_TEST_TOKEN", field: "serve.report"}
		p.env["REPORT_TEST_TOKEN"] = token
	}
	store, err := a.openStore(context.Background(), p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	loaded := rules.LoadFiles([]string{cfg.rulesPath(cfg.RuleSets[0])}, ruleOptions())
	if err := loaded.Err(); err != nil {
		t.Fatal(err)
	}
	rs := loaded.RuleSets[0]
	byName := func(n string) *rules.RuleSet {
		if n == rs.Name {
			return rs
		}
		return nil
	}
	h, err := a.reportEndpoint(cfg, &wiring{state: store}, []string{rs.Name}, byName, slog.New(slog.NewJSONHandler(&p.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+reportPath, h)
	return mux
}

func TestReportHTTP(t *testing.T) {
	p := newReportProject(t)
	const token = "0123456789abcdef-report-token"
	srv := httptest.NewServer(p.reportServer(token))
	t.Cleanup(srv.Close)
	get := func(path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	bearer := []string{"Authorization", "Bearer " + token}
	for _, tc := range []struct {
		name, path string
		header     []string
		status     int
		want       string
	}{
		{"no token", "/report", nil, http.StatusUnauthorized, "needs the token"},
		{"wrong token", "/report", []string{"Authorization", "Bearer 0123456789abcdef-wrong"}, http.StatusUnauthorized, "needs the token"},
		{"index", "/report", bearer, http.StatusOK, `<a href="report?ruleset=retail">零售客户分群 (retail)</a>`},
		{"report", "/report?ruleset=retail&since=2020-01-01", bearer, http.StatusOK, `"ruleset":"retail"`},
		{"basic, as a browser asks", "/report?ruleset=retail", []string{"Authorization", "Basic " + basic("anyone", token)}, http.StatusOK, `<title>Class report: 零售客户分群 (retail)</title>`},
		{"a link back to the index", "/report?ruleset=retail", bearer, http.StatusOK, `<a href="report">Every rule set</a>`},
		{"unknown rule set", "/report?ruleset=b2b", bearer, http.StatusNotFound, `serve runs no rule set "b2b"; it runs retail`},
		{"bad period", "/report?ruleset=retail&since=soon", bearer, http.StatusBadRequest, `since "soon": give a duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(tc.path, tc.header...)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("GET %s: %d, want %d with %q:\n%.400s", tc.path, resp.StatusCode, tc.status, tc.want, body)
			}
			if tc.status == http.StatusUnauthorized && !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ","), "Basic") {
				t.Fatalf("401 without a Basic challenge: %v", resp.Header)
			}
			if tc.status == http.StatusOK && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'sha256-") {
				t.Fatalf("no script hashes in the policy: %q", resp.Header.Get("Content-Security-Policy"))
			}
		})
	}
	resp, err := http.Post(srv.URL+"/report", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /report: %d, want 405", resp.StatusCode)
	}
	if strings.Contains(p.logs.String(), token) || strings.Contains(p.logs.String(), "wrong") {
		t.Fatalf("a token reached the log:\n%s", p.logs.String())
	}
}

func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
