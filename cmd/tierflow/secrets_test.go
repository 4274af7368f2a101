package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// unreadablePassword is the password of TestPasswordNeverPrintedUnreadable:
// letters no message has, so that any four of them in a row are a leak.
const unreadablePassword = "Zq9Wv7Kx_Jm4Yp"

// passwordFragments returns every run of four or more characters of each
// word of password.
func passwordFragments(password string) []string {
	var out []string
	for _, w := range strings.Fields(password) {
		for n := 4; n <= len(w); n++ {
			for i := 0; i+n <= len(w); i++ {
				out = append(out, w[i:i+n])
			}
		}
	}
	return out
}

// runCLIWithin is runCLI with a context that ends after d, for serve.
func runCLIWithin(t *testing.T, d time.Duration, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	a.getenv = func(k string) string { return env[k] }
	a.now = func() time.Time { return time.Date(2024, 7, 1, 15, 4, 5, 0, time.UTC) }
	code := a.run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// A password that makes the connection string unreadable (a character a
// URL must percent-encode, a space in a key=value value) is never
// printed, whole or in part, by any command that opens a database, for
// the state database and for another database facts come from. Such a
// string is refused in words; the driver never sees it.
func TestPasswordNeverPrintedUnreadable(t *testing.T) {
	t.Parallel()
	d := newDBEnv(t, 20)
	real, err := url.Parse(d.url)
	if err != nil || real.Port() == "" {
		t.Skip("needs the test database as a URL with a host and port")
	}
	host, port, db := real.Hostname(), real.Port(), strings.TrimPrefix(real.Path, "/")
	at := func(rawPassword string) string {
		return "postgres://" + real.User.Username() + ":" + rawPassword + "@" + real.Host + real.Path + "?sslmode=disable"
	}
	kv := func(password string) string {
		return fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable password=%s", host, port, real.User.Username(), db, password)
	}
	const pw = unreadablePassword
	cases := []struct {
		name, dsn, password string
		readable            bool // the string is valid; the server takes it
	}{
		{"URL with a backslash", at(`Zq9\Wv7Kx_Jm4Yp`), `Zq9\Wv7Kx_Jm4Yp`, false},
		{"URL with a double quote", at(`Zq9"Wv7Kx_Jm4Yp`), `Zq9"Wv7Kx_Jm4Yp`, false},
		{"URL with a tab", at("Zq9\tWv7Kx_Jm4Yp"), "Zq9\tWv7Kx_Jm4Yp", false},
		{"URL with a space", at("Zq9 Wv7Kx_Jm4Yp"), "Zq9 Wv7Kx_Jm4Yp", false},
		{"URL with a hash", at("Zq9#Wv7Kx_Jm4Yp"), "Zq9#Wv7Kx_Jm4Yp", false},
		{"URL with a slash", at("Zq9/Wv7Kx_Jm4Yp"), "Zq9/Wv7Kx_Jm4Yp", false},
		{"URL with a question mark", at("Zq9?Wv7Kx_Jm4Yp"), "Zq9?Wv7Kx_Jm4Yp", false},
		{"URL with a bad escape", at("Zq9%zzWv7Kx_Jm4Yp"), "Zq9%zzWv7Kx_Jm4Yp", false},
		{"URL in upper case", strings.Replace(at(pw), "postgres://", "POSTGRES://", 1), pw, false},
		{"key=value, two words", kv("Zq9 Wv7Kx_Jm4Yp"), "Zq9 Wv7Kx_Jm4Yp", false},
		{"key=value, no closing quote", kv("'Zq9 Wv7Kx_Jm4Yp"), "Zq9 Wv7Kx_Jm4Yp", false},
		{"key=value, quoted two words", kv("'Zq9 Wv7Kx_Jm4Yp'"), "Zq9 Wv7Kx_Jm4Yp", true},
		{"key=value, escaped space", kv(`Zq9\ Wv7Kx_Jm4Yp`), "Zq9 Wv7Kx_Jm4Yp", true},
	}
	commands := [][]string{
		{"migrate"},
		{"plan", "--quiet"},
		{"plan", "--json"},
		{"apply", "--quiet"},
		{"check", "--db"},
		{"explain", "--customer", "1"},
		{"history", "--customer", "1"},
		{"runs"},
		{"actions", "list"},
		{"serve", "--listen", "127.0.0.1:0"},
		{"gen", "--postgres-table", "generated_facts", "--customers", "1000"},
	}
	// opensOther are the commands that open the rule sets' facts sources,
	// and with them another database.
	opensOther := map[string]bool{"plan": true, "apply": true, "check": true, "explain": true, "serve": true}
	rules, err := filepath.Abs(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	otherConfig := filepath.Join(t.TempDir(), "tierflow.yaml")
	cfg := "databases:\n  warehouse:\n    driver: postgres\n    url_env: WAREHOUSE_URL\n" +
		"rulesets:\n  - rules: " + rules + "\n    source: {table: customer_facts, database: warehouse}\n"
	if err := os.WriteFile(otherConfig, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		for _, which := range []string{"state database", "other database"} {
			t.Run(c.name+", "+which, func(t *testing.T) {
				t.Parallel()
				env, config := map[string]string{"TIERFLOW_DATABASE_URL": c.dsn}, d.config
				if which == "other database" {
					env = map[string]string{"TIERFLOW_DATABASE_URL": d.url, "WAREHOUSE_URL": c.dsn}
					config = otherConfig
				}
				for _, cmd := range commands {
					what := strings.Join(cmd, " ")
					r := runCLIWithin(t, time.Second, env, append(cmd, "--config", config)...)
					out := r.stdout + r.stderr
					for _, f := range append(passwordFragments(c.password), c.password) {
						if strings.Contains(out, f) {
							t.Errorf("%s printed %q of the password:\n%s", what, f, r)
							break
						}
					}
					opens := which == "state database" || opensOther[cmd[0]]
					if c.readable || !opens {
						continue
					}
					if r.code == exitOK {
						t.Errorf("%s with an unreadable connection string succeeded:\n%s", what, r)
					}
					if !strings.Contains(r.stderr, "is not a valid URL") && !strings.Contains(r.stderr, "is not valid key=value settings") {
						t.Errorf("%s does not say the connection string cannot be read:\n%s", what, r)
					}
				}
			})
		}
	}
}
