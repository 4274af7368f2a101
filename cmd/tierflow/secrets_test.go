package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secret = "s3cretpw"

// The database password never appears in anything tierflow prints, what
// ever goes wrong with the connection string: it comes from the
// environment or a file, and errors are redacted.
func TestPasswordNeverPrinted(t *testing.T) {
	t.Parallel()
	d := newDBEnv(t, 20)
	real, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	withPassword := func(mod func(u *url.URL)) string {
		u := *real
		u.User = url.UserPassword(u.User.Username(), secret)
		mod(&u)
		return u.String()
	}
	urls := map[string]string{
		"refused":              "postgres://postgres:" + secret + "@127.0.0.1:1/x?sslmode=disable",
		"bad port":             "postgres://postgres:" + secret + "@127.0.0.1:notaport/x",
		"bad escape":           "postgres://postgres:s3cret%zzpw@127.0.0.1:1/x",
		"escaped password":     "postgres://postgres:s3cret%70w@127.0.0.1:notaport/x",
		"bad sslmode":          "postgres://postgres:" + secret + "@127.0.0.1:1/x?sslmode=bogus",
		"bad timeout":          "postgres://postgres:" + secret + "@127.0.0.1:1/x?connect_timeout=abc",
		"key=value":            "host=127.0.0.1 port=1 user=postgres password=" + secret + " dbname=x sslmode=disable",
		"key=value quoted":     "host=127.0.0.1 port=abc user=postgres password='" + secret + "' dbname=x",
		"no such database":     withPassword(func(u *url.URL) { u.Path = "/no_such_database" }),
		"server, unmigrated":   withPassword(func(*url.URL) {}),
		"echoed by the server": withPassword(func(u *url.URL) { u.User = url.UserPassword("nobody_"+secret, secret) }),
		"ssl to a plain port":  withPassword(func(u *url.URL) { u.RawQuery = "sslmode=require" }),
	}
	commands := [][]string{
		{"migrate", "--dry-run"},
		{"plan", "--quiet"},
		{"apply", "--quiet"},
		{"plan", "--json"},
		{"check", "--db"},
		{"history", "--customer", "1"},
		{"actions", "list"},
		{"explain", "--customer", "1"},
	}
	check := func(t *testing.T, r result, what string) {
		t.Helper()
		out := r.stdout + r.stderr
		for _, s := range []string{secret, "s3cret%70w", "s3cret%zzpw"} {
			if strings.Contains(out, s) {
				t.Errorf("%s printed the password:\n%s", what, r)
			}
		}
	}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"TIERFLOW_DATABASE_URL": u}
			for _, cmd := range commands {
				r := runCLI(t, env, append(cmd, "--config", d.config)...)
				check(t, r, strings.Join(cmd, " "))
				if r.code == exitOK && name != "server, unmigrated" {
					t.Errorf("%s with a broken URL succeeded:\n%s", strings.Join(cmd, " "), r)
				}
			}
		})
	}

	// The same from a url_file, and with the database working but a facts
	// query that fails.
	t.Run("url_file and a failing source", func(t *testing.T) {
		t.Parallel()
		e := newDBEnv(t, 20)
		real, err := url.Parse(e.url)
		if err != nil {
			t.Fatal(err)
		}
		real.User = url.UserPassword(real.User.Username(), secret)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "db-url"), []byte(real.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		rules, _ := filepath.Abs(retailRules)
		cfg := "database:\n  url_file: db-url\nrulesets:\n  - rules: " + rules + "\n    source: SELECT * FROM no_such_table\n"
		config := filepath.Join(dir, "tierflow.yaml")
		if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, runCLI(t, nil, "migrate", "--config", config).want(t, exitOK), "migrate")
		for _, cmd := range commands {
			r := runCLI(t, nil, append(cmd, "--config", config)...)
			check(t, r, strings.Join(cmd, " "))
		}
		r := runCLI(t, nil, "plan", "--quiet", "--config", config).want(t, exitFailure)
		if !strings.Contains(r.stderr, "no_such_table") {
			t.Errorf("plan with a broken source does not name the problem:\n%s", r)
		}
	})
}
