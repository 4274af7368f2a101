package postgres_test

import (
	"context"
	"io"
	"net"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// proxy forwards TCP connections to a PostgreSQL server. Its restart
// drops every connection and refuses new ones for a while: a server
// restart, as clients see it.
type proxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	conns     []net.Conn
	downUntil time.Time
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.restart(0)
	})
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := time.Now().Before(p.downUntil)
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, s)
	p.mu.Unlock()
	go func() {
		_, _ = io.Copy(s, c)
		s.Close()
	}()
	_, _ = io.Copy(c, s)
	c.Close()
}

// restart closes every connection and refuses new ones for down.
func (p *proxy) restart(down time.Duration) {
	p.mu.Lock()
	conns := p.conns
	p.conns, p.downUntil = nil, time.Now().Add(down)
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// restartBeforeCommit is a state store whose applies restart the proxy
// when they come to commit: the apply has staged what it could and the
// database goes away under it.
type restartBeforeCommit struct {
	*postgres.Store
	restart func()
}

func (s restartBeforeCommit) BeginApply(ctx context.Context, rs *rules.RuleSet, run jobs.RunInfo) (jobs.ApplyTx, error) {
	tx, err := s.Store.BeginApply(ctx, rs, run)
	if err != nil {
		return nil, err
	}
	return commitRestarts{tx, s.restart}, nil
}

type commitRestarts struct {
	jobs.ApplyTx
	restart func()
}

func (c commitRestarts) Commit(ctx context.Context, sum jobs.RunSummary) error {
	c.restart()
	return c.ApplyTx.Commit(ctx, sum)
}

// An apply that loses its connection (a database restart) says so, that
// nothing was written and to rerun it, and is recorded as failed once
// the database is back, not left running for the next run to call
// abandoned.
func TestApplyLostConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct, url := newStoreURL(t, 3000)
	u, err := neturl.Parse(url)
	if err != nil || u.Host == "" || u.Port() == "" {
		t.Skip("needs the test database as a URL with a host and port")
	}
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	s, err := postgres.Open(ctx, postgres.Config{URL: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The facts come straight from the database: only the state store's
	// connections go through the proxy.
	fdb, err := postgres.OpenDatabase(ctx, url, "facts")
	if err != nil {
		t.Fatal(err)
	}
	defer fdb.Close()
	src := fdb.Source("customer_facts")
	rs := retail(t)
	restarting := restartBeforeCommit{s, func() { p.restart(500 * time.Millisecond) }}

	_, err = jobs.Apply(ctx, restarting, jobs.FactsByRuleSet{"retail": src}, rs, opts())
	const want = "the connection to the database was lost during the apply; nothing was written; rerun the apply: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("apply over a restart: %v\nwant it to start %q", err, want)
	}
	if n := count(t, direct, `SELECT count(*) FROM tierflow.assignments`); n != 0 {
		t.Errorf("%d assignments written, want none", n)
	}
	if got := runStatuses(t, direct); len(got) != 1 || got["failed"] != 1 {
		t.Errorf("runs by status: %v, want the run failed", got)
	}

	// Run again, the database back: it applies.
	if _, err := jobs.Apply(ctx, s, facts(direct), rs, opts()); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if got := runStatuses(t, direct); got["failed"] != 1 || got["succeeded"] != 1 || len(got) != 2 {
		t.Errorf("runs by status after the rerun: %v, want one failed and one succeeded", got)
	}
}
