package main

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// queueDoc is the consumers' contract, whose outcome statements this
// file runs.
const queueDoc = "../../docs/queue.md"

// queueSQL returns the sql block of docs/queue.md that starts with
// prefix and contains part.
func queueSQL(t *testing.T, prefix, part string) string {
	t.Helper()
	for _, b := range codeBlocks(t, queueDoc, "sql") {
		if strings.HasPrefix(b, prefix) && strings.Contains(b, part) {
			return b
		}
	}
	t.Fatalf("docs/queue.md has no sql block starting with %q and containing %q", prefix, part)
	return ""
}

// The UPDATEs docs/queue.md gives consumers record outcomes that
// tierflow reads back, on SQLite and on PostgreSQL: actions show prints
// them, a coverage target counts them from their time, and the status
// list leaves withheld actions alone.
func TestQueueDocOutcomeSQL(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		config, ids := outcomeProject(t, "")
		db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(config), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		update := queueSQL(t, "UPDATE actions", "strftime")
		testQueueDocSQL(t, config, nil, ids, func(id, status string, outcome, note any) int64 {
			res, err := db.Exec(update, id, status, outcome, note)
			if err != nil {
				t.Fatalf("%s: %v", update, err)
			}
			n, _ := res.RowsAffected()
			return n
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		config, ids, env := outcomePGProject(t, "")
		db, err := sql.Open("postgres", env["TIERFLOW_DATABASE_URL"])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		update := queueSQL(t, "UPDATE tierflow.actions\nSET status = $2, outcome = $3", "outcome_at = $5")
		testQueueDocSQL(t, config, env, ids, func(id, status string, outcome, note any) int64 {
			res, err := db.Exec(update, id, status, outcome, note, time.Now().UTC().Add(-time.Minute))
			if err != nil {
				t.Fatalf("%s: %v", update, err)
			}
			n, _ := res.RowsAffected()
			return n
		})
	})
}

func testQueueDocSQL(t *testing.T, config string, env, ids map[string]string, update func(id, status string, outcome, note any) int64) {
	t.Helper()
	if n := update(ids["small_note"], "done", nil, nil); n != 0 {
		t.Errorf("the update changed a held-out action (%d rows)", n)
	}
	if n := update(ids["vip_call"], "done", "reached", "booked a visit"); n != 1 {
		t.Fatalf("the update changed %d rows, want 1", n)
	}
	show := runCLI(t, env, "actions", "show", ids["vip_call"], "--config", config).want(t, exitOK)
	for _, want := range []string{"status           done", "outcome          reached", "outcome at       2", "note             booked a visit"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("actions show lacks %q:\n%s", want, show.stdout)
		}
	}
	// Coverage reads the outcome from outcome_at, compared as the store
	// compares times: the customer is covered as of now.
	asOf := time.Now().UTC().Add(time.Minute).Format(time.RFC3339)
	r := runCLI(t, env, "plan", "--format", "json", "--config", config, "--as-of", asOf)
	var reps []struct {
		Coverage []struct {
			Segment string `json:"segment"`
			Covered int    `json:"covered"`
		} `json:"coverage"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || len(reps) != 1 || len(reps[0].Coverage) != 1 {
		t.Fatalf("plan --format json (%v):\n%s", err, r)
	}
	if c := reps[0].Coverage[0]; c.Segment != "vip" || c.Covered != 1 {
		t.Errorf("coverage after the SQL outcome: %+v, want vip covered 1", c)
	}
}
