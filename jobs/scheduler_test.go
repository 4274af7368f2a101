package jobs

import (
	"io"
	"log/slog"
	"testing"

	"github.com/robfig/cron/v3"
)

// TestChainKeepsJobAliveAfterPanic: a job that panics once still runs at
// its next slot. The reversed chain shows the trap it avoids.
func TestChainKeepsJobAliveAfterPanic(t *testing.T) {
	logger := cronLogger{slog.New(slog.NewTextHandler(io.Discard, nil))}
	run := func(wrappers []cron.JobWrapper) int {
		calls := 0
		job := cron.NewChain(wrappers...).Then(cron.FuncJob(func() {
			calls++
			if calls == 1 {
				panic("boom")
			}
		}))
		func() {
			defer func() { _ = recover() }() // the reversed chain lets the panic out
			job.Run()
		}()
		job.Run()
		job.Run()
		return calls
	}
	if got := run(jobChain(logger)); got != 3 {
		t.Fatalf("with jobChain the job ran %d times after a panic, want 3", got)
	}
	if got := run([]cron.JobWrapper{cron.Recover(logger), cron.SkipIfStillRunning(logger)}); got != 1 {
		t.Fatalf("the reversed chain ran %d times; the trap it documents no longer exists (want 1)", got)
	}
}
