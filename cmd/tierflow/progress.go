package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress reports a long run on stderr: a live line on a terminal,
// periodic structured log lines otherwise. It never writes to stdout, so
// JSON output stays clean.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	name     string
	start    time.Time
	last     time.Time
	now      func() time.Time
	every    time.Duration
	log      *slog.Logger
	printed  bool
	lastDone int64
}

func (a *app) newProgress(name string) *progress {
	p := &progress{w: a.stderr, name: name, now: a.now, start: a.now()}
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty, p.every = true, 200*time.Millisecond
	} else {
		p.every = 10 * time.Second
		p.log = slog.New(slog.NewJSONHandler(a.stderr, nil))
	}
	p.last = p.start
	return p
}

func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.last) < p.every || done < p.lastDone {
		return
	}
	p.last, p.lastDone = now, done
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(done) / max(elapsed, 1e-9)
	if p.tty {
		line := fmt.Sprintf("%s: %s customers", p.name, thousands(int(done)))
		if total > 0 {
			eta := time.Duration(float64(total-done)/max(rate, 1e-9)) * time.Second
			line = fmt.Sprintf("%s: %s / %s customers (%.0f%%), %s/s, ETA %s", p.name, thousands(int(done)), thousands(int(total)),
				float64(done)*100/float64(total), thousands(int(rate)), eta.Round(time.Second))
		}
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.printed = true
		return
	}
	attrs := []any{"task", p.name, "done", done, "per_second", int(rate)}
	if total > 0 {
		attrs = append(attrs, "total", total)
	}
	p.log.Info("progress", attrs...)
}

// finish clears the live line. It is safe on a nil progress.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.printed {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
