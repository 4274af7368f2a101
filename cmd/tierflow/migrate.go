package main

import (
	"context"
	"fmt"
)

const migrateUsage = `
Usage: tierflow migrate [flags]

Creates or upgrades tierflow's own tables in the database: current
assignments, history, the action queue, run records and scheduled slots.
In PostgreSQL ($TIERFLOW_DATABASE_URL or database.url_file) they live in
the schema database.schema (default "tierflow"); with no database
configured, in the embedded file tierflow.db beside the config.
Migrations are embedded in the binary and versioned; each is applied in
its own transaction, and concurrent migrates wait for each other. apply and
plan refuse to run on an out-of-date schema.

Examples:
  TIERFLOW_DATABASE_URL=postgres://tierflow@db/crm tierflow migrate
  tierflow migrate --dry-run        # list pending migrations only
  tierflow migrate --config demo/tierflow.yaml   # the embedded store of a demo
`

func runMigrate(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("migrate", migrateUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	dryRun := fs.Bool("dry-run", false, "list pending migrations without applying them")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return a.errorf("migrate: %v", err)
	}
	be, err := cfg.backend(a.getenv)
	if err != nil {
		return a.errorf("migrate: %v", err)
	}
	store, err := be.openStateCreating(ctx, cfg.Database.Schema)
	if err != nil {
		return a.errorf("migrate: %v", err)
	}
	if be.url == "" {
		fmt.Fprintf(a.stderr, "using %s\n", be)
	}
	defer store.Close()
	before, err := store.MigrationStatus(ctx)
	if err != nil {
		return a.errorf("migrate: %s", store.Redact(err.Error()))
	}
	if len(before.Pending) == 0 {
		fmt.Fprintf(a.stdout, "schema %q is up to date (version %d)\n", store.Schema(), before.Current)
		return exitOK
	}
	for _, m := range before.Pending {
		verb := "applying"
		if *dryRun {
			verb = "pending"
		}
		fmt.Fprintf(a.stdout, "%s %s\n", verb, m.Name)
	}
	if *dryRun {
		return exitOK
	}
	st, err := store.Migrate(ctx, false)
	if err != nil {
		return a.errorf("migrate: %s", store.Redact(err.Error()))
	}
	fmt.Fprintf(a.stdout, "schema %q is at version %d\n", store.Schema(), st.Current)
	return exitOK
}
