package destkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable clock: a fixed start plus an offset.
type clock struct{ elapsed atomic.Int64 }

var start = time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)

func (c *clock) Now() time.Time      { return start.Add(time.Duration(c.elapsed.Load())) }
func (c *clock) Add(d time.Duration) { c.elapsed.Add(int64(d)) }

func newClock() *clock { return &clock{} }

// counter is a FetchFunc issuing tok-1, tok-2, ... with the given lifetime.
type counter struct {
	n     atomic.Int32
	ttl   time.Duration
	delay time.Duration
	err   error
}

func (c *counter) fetch(ctx context.Context) (Token, time.Duration, error) {
	time.Sleep(c.delay)
	n := c.n.Add(1)
	if c.err != nil {
		return Token{}, 0, c.err
	}
	return Token{Value: fmt.Sprint("tok-", n), Extra: "x"}, c.ttl, nil
}

func TestTokenSourceCachesAndShares(t *testing.T) {
	c, clk := &counter{ttl: time.Hour, delay: 20 * time.Millisecond}, newClock()
	s := NewTokenSource(c.fetch, clk.Now, TokenMargin, 0)
	var wg sync.WaitGroup
	got := make(chan string, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := s.Get(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- tok.Value
		}()
	}
	wg.Wait()
	close(got)
	for v := range got {
		if v != "tok-1" {
			t.Errorf("token %q, want the one shared tok-1", v)
		}
	}
	clk.Add(54 * time.Minute)
	if tok, _ := s.Get(context.Background()); tok.Value != "tok-1" || tok.Extra != "x" {
		t.Errorf("within the lifetime: %+v, want tok-1", tok)
	}
	clk.Add(2 * time.Minute) // past an hour minus the 5-minute margin
	if tok, _ := s.Get(context.Background()); tok.Value != "tok-2" {
		t.Errorf("past the margin: %q, want tok-2", tok.Value)
	}
	if n := c.n.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
}

func TestTokenSourceShortLifetime(t *testing.T) {
	c, clk := &counter{ttl: 4 * time.Minute}, newClock() // shorter than the margin: half of it
	s := NewTokenSource(c.fetch, clk.Now, TokenMargin, 0)
	s.Get(context.Background())
	clk.Add(119 * time.Second)
	if tok, _ := s.Get(context.Background()); tok.Value != "tok-1" {
		t.Errorf("at 119s: %q, want tok-1", tok.Value)
	}
	clk.Add(time.Second)
	if tok, _ := s.Get(context.Background()); tok.Value != "tok-2" {
		t.Errorf("at 120s: %q, want tok-2", tok.Value)
	}
}

func TestTokenSourceInvalidate(t *testing.T) {
	c, clk := &counter{ttl: time.Hour}, newClock()
	s := NewTokenSource(c.fetch, clk.Now, TokenMargin, 0)
	old, _ := s.Get(context.Background())
	if err := s.Invalidate(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	cur, _ := s.Get(context.Background())
	if cur.Value != "tok-2" {
		t.Fatalf("after Invalidate: %q, want tok-2", cur.Value)
	}
	// A caller still holding the old token does not drop the new one.
	if err := s.Invalidate(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Get(context.Background()); tok.Value != "tok-2" {
		t.Errorf("a stale Invalidate dropped the new token: %q", tok.Value)
	}
}

func TestTokenSourceMinInterval(t *testing.T) {
	c, clk := &counter{ttl: time.Hour}, newClock()
	s := NewTokenSource(c.fetch, clk.Now, TokenMargin, time.Minute)
	tok, _ := s.Get(context.Background())
	clk.Add(20 * time.Second)
	s.Invalidate(context.Background(), tok)
	_, err := s.Get(context.Background())
	var f *Failure
	if !errors.As(err, &f) || f.RetryAfter != 40*time.Second || f.Permanent ||
		!strings.Contains(err.Error(), "may be asked again in 40s") {
		t.Fatalf("err = %v, want a Failure asking for 40s", err)
	}
	clk.Add(40 * time.Second)
	if tok, err := s.Get(context.Background()); err != nil || tok.Value != "tok-2" {
		t.Fatalf("after the interval: %v, %v", tok, err)
	}
}

func TestTokenSourceFetchError(t *testing.T) {
	boom := errors.New("boom")
	c, clk := &counter{ttl: time.Hour, err: boom}, newClock()
	s := NewTokenSource(c.fetch, clk.Now, TokenMargin, 0)
	for range 2 {
		if _, err := s.Get(context.Background()); err != boom {
			t.Fatalf("err = %v, want fetch's error as it is", err)
		}
	}
	if n := c.n.Load(); n != 2 || len(s.Tokens()) != 0 {
		t.Errorf("fetches = %d tokens %v, want 2 and none cached", n, s.Tokens())
	}
}

func TestTokenSourceWaitRespectsContext(t *testing.T) {
	release := make(chan struct{})
	s := NewTokenSource(func(ctx context.Context) (Token, time.Duration, error) {
		<-release
		return Token{Value: "t"}, time.Hour, nil
	}, time.Now, TokenMargin, 0)
	done := make(chan struct{})
	go func() { s.Get(context.Background()); close(done) }()
	time.Sleep(10 * time.Millisecond) // the first caller holds the lock
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Get(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "wait for access token") {
		t.Errorf("Get = %v, want the deadline", err)
	}
	if err := s.Invalidate(ctx, Token{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Invalidate = %v, want the deadline", err)
	}
	close(release)
	<-done
}

func TestTokenSourceRemembersLatestTokens(t *testing.T) {
	c, clk := &counter{ttl: time.Hour}, newClock()
	s := NewTokenSource(c.fetch, clk.Now, TokenMargin, 0)
	for range 10 {
		tok, _ := s.Get(context.Background())
		s.Invalidate(context.Background(), tok)
	}
	got := s.Tokens()
	if len(got) != maxSeen || got[0] != "tok-3" || got[len(got)-1] != "tok-10" {
		t.Fatalf("Tokens() = %v, want tok-3 to tok-10", got)
	}
	got[0] = "changed"
	if s.Tokens()[0] != "tok-3" {
		t.Error("Tokens() shares its slice")
	}
}
