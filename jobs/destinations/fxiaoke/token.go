package fxiaoke

// This file is kept identical (but for the package clause) in
// jobs/destinations/zoho.

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// token is one access token and what came with it (an API domain, a
// corp id).
type token struct {
	value   string
	extra   string
	expires time.Time
	gen     uint64
}

// fetchFunc asks the token endpoint for a new token and its lifetime.
type fetchFunc func(ctx context.Context) (token, time.Duration, error)

// maxSeen bounds the tokens remembered for redaction.
const maxSeen = 8

// tokenSource caches one token until its lifetime minus margin. One
// caller at a time refreshes; the others wait for it (or for their
// context) and share the token it got.
type tokenSource struct {
	sem         chan struct{} // a mutex waiters can abandon
	fetch       fetchFunc
	now         func() time.Time
	margin      time.Duration
	minInterval time.Duration // never fetch more often than this (0: no limit)

	// guarded by sem
	cur       token
	gen       uint64
	lastFetch time.Time
	fetches   int

	seenMu sync.Mutex
	seen   []string // the latest tokens handed out, for redaction
}

func newTokenSource(fetch fetchFunc, now func() time.Time, margin, minInterval time.Duration) *tokenSource {
	return &tokenSource{sem: make(chan struct{}, 1), fetch: fetch, now: now, margin: margin, minInterval: minInterval}
}

func (s *tokenSource) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *tokenSource) unlock() { <-s.sem }

// get returns the cached token, or fetches one when there is none or it
// has expired.
func (s *tokenSource) get(ctx context.Context) (token, error) {
	if err := s.lock(ctx); err != nil {
		return token{}, fmt.Errorf("wait for access token: %w", err)
	}
	defer s.unlock()
	now := s.now()
	if s.cur.value != "" && now.Before(s.cur.expires) {
		return s.cur, nil
	}
	if s.minInterval > 0 && !s.lastFetch.IsZero() {
		if wait := s.lastFetch.Add(s.minInterval).Sub(now); wait > 0 {
			return token{}, &failure{
				err:        fmt.Errorf("access token: the token endpoint may be asked again in %s", wait.Round(time.Second)),
				retryAfter: wait,
			}
		}
	}
	s.lastFetch = now
	s.fetches++
	t, ttl, err := s.fetch(ctx)
	if err != nil {
		return token{}, err
	}
	life := ttl - s.margin
	if life <= 0 {
		life = ttl / 2
	}
	s.gen++
	t.gen, t.expires = s.gen, now.Add(life)
	s.cur = t
	s.seenMu.Lock()
	s.seen = append(s.seen, t.value)
	if len(s.seen) > maxSeen {
		s.seen = s.seen[len(s.seen)-maxSeen:]
	}
	s.seenMu.Unlock()
	return t, nil
}

// invalidate drops t if it is still the cached token, so the next get
// fetches a new one; a token another caller already replaced is left.
func (s *tokenSource) invalidate(ctx context.Context, t token) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("wait for access token: %w", err)
	}
	defer s.unlock()
	if s.cur.gen == t.gen {
		s.cur = token{}
	}
	return nil
}

// tokens returns the tokens handed out lately, for redaction.
func (s *tokenSource) tokens() []string {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	return append([]string(nil), s.seen...)
}
