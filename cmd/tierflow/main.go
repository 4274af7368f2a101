// Command tierflow classifies customers with reviewed rule files and queues
// the follow-ups each class needs. Run `tierflow help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tierflow/tierflow/internal/gctune"
	// Rule sets and schedules name IANA time zones; embedding the zone
	// database (about 450 KB) makes them load in minimal containers that
	// have no /usr/share/zoneinfo.
	_ "time/tzdata"
)

func main() {
	gctune.Set(os.Getenv) // unless GOGC or GOMEMLIMIT says otherwise
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newApp(os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
