package main

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// attemptTimeout bounds one attempt to reach the databases, so that a
// host that drops packets is retried rather than waited on for minutes.
const attemptTimeout = 30 * time.Second

// dbWait retries reaching serve's databases at start, with exponential
// backoff and jitter, while the error is one that time can fix (the
// server is down, starting, or full), and gives up at once on any other
// (see retryable).
type dbWait struct {
	policy jobs.RetryPolicy
	rnd    func() float64                       // jitter; rand.Float64 in serve
	after  func(time.Duration) <-chan time.Time // time.After in serve
	logger *slog.Logger
	status *startStatus
	redact func(string) string
}

// newDBWait is the wait serve uses: base doubling up to max, each wait
// up to a fifth shorter at random.
func newDBWait(base, max time.Duration, logger *slog.Logger, status *startStatus, redact func(string) string) *dbWait {
	return &dbWait{
		policy: jobs.RetryPolicy{Base: base, Max: max, Factor: 2, Jitter: 0.2, MaxAttempts: -1, MaxAge: -1},
		rnd:    rand.Float64, after: time.After, logger: logger, status: status, redact: redact,
	}
}

// run calls attempt until it succeeds, fails with an error retrying
// cannot fix (returned), or ctx ends (ctx.Err() is returned). Each failed
// attempt is logged with its number and the wait before the next.
func (d *dbWait) run(ctx context.Context, attempt func(context.Context) error) error {
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := attempt(actx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			if n > 1 {
				d.logger.Info("database reached", "attempts", n)
			}
			return nil
		}
		reason, ok := retryable(err)
		if !ok {
			return err
		}
		wait := d.policy.Next(n, d.rnd)
		d.status.waiting(fmt.Sprintf("waiting for the database (%s; attempt %d failed, next in %s)", reason, n, roundWait(wait)))
		d.logger.Warn("database not reachable; retrying", "attempt", n, "retry_in", roundWait(wait).String(),
			"reason", reason, "error", d.redact(err.Error()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.after(wait):
		}
	}
}

// roundWait rounds a wait for messages: to the millisecond.
func roundWait(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// sqlStater is how PostgreSQL errors (lib/pq's among them) tell their
// SQLSTATE code, without this package importing a driver.
type sqlStater interface{ SQLState() string }

// retryable says whether err, from reaching a database, may go away by
// itself, and why, in words with no secret: the server is down or
// unknown to DNS yet, not accepting connections yet, full, or the
// connection dropped. Everything else (an unreadable URL, failed
// authentication, a missing database, TLS refused, a schema not
// migrated, an error in a rule file) is not retried.
func retryable(err error) (reason string, ok bool) {
	var st sqlStater
	if errors.As(err, &st) {
		return retryableState(st.SQLState())
	}
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return "host not found", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out", true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, driver.ErrBadConn):
		return "connection lost", true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return "timed out", true
		}
		return "network error", true
	}
	return "", false
}

// retryableState classifies a PostgreSQL SQLSTATE code.
func retryableState(code string) (string, bool) {
	switch {
	case code == "57P03": // cannot_connect_now
		return "the database is starting up", true
	case code == "53300": // too_many_connections
		return "too many connections", true
	case code == "57P01", code == "57P02": // admin_shutdown, crash_shutdown
		return "the database is shutting down", true
	case strings.HasPrefix(code, "08"): // connection_exception
		return "connection failure", true
	case strings.HasPrefix(code, "53"): // insufficient_resources
		return "the database is out of resources", true
	}
	return "", false
}
