package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// Action renders one queued action with its delivery attempts (tierflow
// actions show ID) as text or JSON.
func Action(format string, w io.Writer, a kernel.QueuedAction, attempts []jobs.Attempt) error {
	f, err := parseFormat(format, []Format{Text, JSON})
	if err != nil {
		return err
	}
	if f == JSON {
		return actionDetailJSON(w, a, attempts)
	}
	return flush(w, func(b *bytes.Buffer) {
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(b, "%-16s %s\n", k, v)
			}
		}
		row("action", fmt.Sprint(a.ID))
		row("ruleset", a.RuleSet)
		row("name", a.Action)
		row("customer", a.Customer)
		row("status", a.Status)
		row("destination", orNone(a.Destination))
		row("priority", fmt.Sprint(a.Priority))
		row("created", formatValue(a.CreatedAt.UTC()))
		row("due", formatValue(a.DueAt.UTC()))
		if a.LeaseOwner != "" && a.LeaseUntil != nil {
			row("claimed by", a.LeaseOwner+" until "+formatValue(a.LeaseUntil.UTC()))
		}
		row("attempts", fmt.Sprint(a.Attempts))
		row("last error", deref(a.LastError))
		row("idempotency key", a.Idempotent)
		row("payload", string(a.Payload))
		if len(attempts) == 0 {
			fmt.Fprintln(b, "\nno delivery attempts")
			return
		}
		const line = "%-8s %-20s %9s %-6s %-28s %s\n"
		fmt.Fprintf(b, "\n"+line, "attempt", "started", "took", "http", "worker", "error / response")
		for _, at := range attempts {
			status := "-"
			if at.Status != 0 {
				status = fmt.Sprint(at.Status)
			}
			detail := at.Error
			switch {
			case detail == "":
				detail = at.Response
			case at.Response != "":
				detail += "; response: " + at.Response
			}
			fmt.Fprintf(b, line, fmt.Sprint(at.Number), formatValue(at.Started.UTC()), at.Duration.Round(time.Millisecond).String(),
				status, at.Worker, oneLine(detail))
		}
	})
}

// oneLine keeps a response excerpt on one line of a table.
func oneLine(s string) string {
	b, _ := json.Marshal(s)
	if bytes.ContainsAny([]byte(s), "\n\r\t") {
		return string(b)
	}
	return s
}

// attemptJSON is one attempt in the JSON document of actions show.
type attemptJSON struct {
	Attempt    int       `json:"attempt"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	Worker     string    `json:"worker"`
	HTTPStatus int       `json:"http_status,omitempty"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"`
}

func actionDetailJSON(w io.Writer, a kernel.QueuedAction, attempts []jobs.Attempt) error {
	payload := a.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	item := actionItemJSON{ID: a.ID, RuleSet: a.RuleSet, Action: a.Action, Customer: a.Customer, Payload: payload,
		Priority: a.Priority, Status: a.Status, CreatedAt: a.CreatedAt, DueAt: a.DueAt, Attempts: a.Attempts,
		LastError: a.LastError, RunID: a.RunID, IdempotencyKey: a.Idempotent}
	followUpJSON(&item, &a)
	out := make([]attemptJSON, len(attempts))
	for i, at := range attempts {
		out[i] = attemptJSON{Attempt: at.Number, StartedAt: at.Started.UTC(), DurationMS: float64(at.Duration.Microseconds()) / 1000,
			Worker: at.Worker, HTTPStatus: at.Status, Error: at.Error, Response: at.Response}
	}
	return writeJSON(w, struct {
		FormatVersion int            `json:"format_version"`
		Action        actionItemJSON `json:"action"`
		Destination   string         `json:"destination,omitempty"`
		DeliveryTries []attemptJSON  `json:"delivery_attempts"`
	}{FormatVersion, item, a.Destination, out})
}
