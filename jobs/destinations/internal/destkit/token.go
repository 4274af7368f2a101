package destkit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// TokenMargin is how long before its expiry a token is replaced, as the
// destinations use it.
const TokenMargin = 5 * time.Minute

// Token is one access token and what came with it (an API domain, a
// corp id). Its expiry and generation are set by TokenSource.
type Token struct {
	Value   string
	Extra   string
	expires time.Time
	gen     uint64
}

// FetchFunc asks the token endpoint for a new token and its lifetime.
type FetchFunc func(ctx context.Context) (Token, time.Duration, error)

// maxSeen bounds the tokens remembered for redaction.
const maxSeen = 8

// TokenSource caches one token until its lifetime minus margin. One
// caller at a time refreshes; the others wait for it (or for their
// context) and share the token it got. It is safe for concurrent use.
type TokenSource struct {
	sem         chan struct{} // a mutex waiters can abandon
	fetch       FetchFunc
	now         func() time.Time
	margin      time.Duration
	minInterval time.Duration // never fetch more often than this (0: no limit)

	// guarded by sem
	cur       Token
	gen       uint64
	lastFetch time.Time
	fetches   int

	seenMu sync.Mutex
	seen   []string // the latest tokens handed out, for redaction
}

// NewTokenSource returns a source that gets its tokens from fetch and
// replaces each margin before it expires (at half its lifetime when that
// is shorter than margin). With minInterval > 0, fetch is called at most
// once per minInterval; a Get that would need it sooner fails with a
// *Failure carrying the wait as RetryAfter.
func NewTokenSource(fetch FetchFunc, now func() time.Time, margin, minInterval time.Duration) *TokenSource {
	return &TokenSource{sem: make(chan struct{}, 1), fetch: fetch, now: now, margin: margin, minInterval: minInterval}
}

func (s *TokenSource) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *TokenSource) unlock() { <-s.sem }

// Get returns the cached token, or fetches one when there is none or it
// has expired. fetch's error is returned as it is.
func (s *TokenSource) Get(ctx context.Context) (Token, error) {
	if err := s.lock(ctx); err != nil {
		return Token{}, fmt.Errorf("wait for access token: %w", err)
	}
	defer s.unlock()
	now := s.now()
	if s.cur.Value != "" && now.Before(s.cur.expires) {
		return s.cur, nil
	}
	if s.minInterval > 0 && !s.lastFetch.IsZero() {
		if wait := s.lastFetch.Add(s.minInterval).Sub(now); wait > 0 {
			return Token{}, &Failure{
				Err:        fmt.Errorf("access token: the token endpoint may be asked again in %s", wait.Round(time.Second)),
				RetryAfter: wait,
			}
		}
	}
	s.lastFetch = now
	s.fetches++
	t, ttl, err := s.fetch(ctx)
	if err != nil {
		return Token{}, err
	}
	life := ttl - s.margin
	if life <= 0 {
		life = ttl / 2
	}
	s.gen++
	t.gen, t.expires = s.gen, now.Add(life)
	s.cur = t
	s.seenMu.Lock()
	s.seen = append(s.seen, t.Value)
	if len(s.seen) > maxSeen {
		s.seen = s.seen[len(s.seen)-maxSeen:]
	}
	s.seenMu.Unlock()
	return t, nil
}

// Invalidate drops t if it is still the cached token, so the next Get
// fetches a new one; a token another caller already replaced is left.
func (s *TokenSource) Invalidate(ctx context.Context, t Token) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("wait for access token: %w", err)
	}
	defer s.unlock()
	if s.cur.gen == t.gen {
		s.cur = Token{}
	}
	return nil
}

// Tokens returns the tokens handed out lately (at most 8), for
// redaction.
func (s *TokenSource) Tokens() []string {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	return append([]string(nil), s.seen...)
}
