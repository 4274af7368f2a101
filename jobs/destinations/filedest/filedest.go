package filedest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// Line is one line of the file: the webhook body's "data" fields plus
// its "id" (docs/webhooks.md).
type Line struct {
	// ID is the webhook destination's id for the same action: "act_" and
	// 32 hex digits of the idempotency key's SHA-256, the same on every
	// attempt, so readers de-duplicate on it.
	ID             string          `json:"id"`
	RuleSet        string          `json:"ruleset"`
	Action         string          `json:"action"`
	Customer       string          `json:"customer"`
	Payload        json.RawMessage `json:"payload"`
	Priority       int             `json:"priority"`
	DueAt          time.Time       `json:"due_at"`
	CreatedAt      time.Time       `json:"created_at"`
	RunID          int64           `json:"run_id"`
	Attempt        int             `json:"attempt"`
	ActionID       int64           `json:"action_id"`
	IdempotencyKey string          `json:"idempotency_key"`
}

// NewLine is the line for delivery d. Times are in UTC.
func NewLine(d *jobs.Delivery) Line {
	sum := sha256.Sum256([]byte(d.IdempotencyKey))
	payload := d.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	return Line{
		ID: "act_" + hex.EncodeToString(sum[:16]), RuleSet: d.RuleSet, Action: d.Action,
		Customer: d.Customer, Payload: payload, Priority: d.Priority,
		DueAt: d.DueAt.UTC(), CreatedAt: d.CreatedAt.UTC(), RunID: d.RunID,
		Attempt: d.Attempt, ActionID: d.ID, IdempotencyKey: d.IdempotencyKey,
	}
}

// Option changes how New opens a File.
type Option func(*File)

// WithWriter sets where the lines go when the path is "-" or "" (the
// default is standard output).
func WithWriter(w io.Writer) Option { return func(f *File) { f.stdout = w } }

// WithSync makes every delivery wait for its line to reach the disk
// (fsync) before it counts as delivered. It has no effect on a writer.
func WithSync(sync bool) Option { return func(f *File) { f.sync = sync } }

// File is a jobs.Destination that appends JSON lines; writes are
// serialised, so it is safe for concurrent use, and each line is one
// write on a file opened for appending.
type File struct {
	mu     sync.Mutex
	w      io.Writer
	file   *os.File // nil for a writer
	stdout io.Writer
	sync   bool
	// torn is set when a write failed part-way: the next line starts
	// with a newline so that the fragment stays a line of its own.
	torn bool
}

var _ jobs.Destination = (*File)(nil)

// New opens path for appending (creating it, mode 0600, as actions hold
// customer data); "-" or "" writes to standard output or WithWriter's
// writer.
func New(path string, opts ...Option) (*File, error) {
	f := &File{stdout: os.Stdout}
	for _, o := range opts {
		o(f)
	}
	if path == "" || path == "-" {
		f.w = f.stdout
		return f, nil
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filedest: open: %w", err)
	}
	f.file, f.w = file, file
	return f, nil
}

// Deliver appends d's line. A failed write is retryable; an action whose
// payload is not JSON is permanent.
func (f *File) Deliver(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
	b, err := json.Marshal(NewLine(d))
	if err != nil {
		return jobs.DeliveryOutcome{Err: fmt.Errorf("filedest: encode action %d: %w", d.ID, err), Permanent: true}
	}
	b = append(b, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return jobs.DeliveryOutcome{Err: fmt.Errorf("filedest: action %d: %w", d.ID, err)}
	}
	if f.torn {
		b = append([]byte{'\n'}, b...)
	}
	n, err := f.w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		f.torn = n > 0
		return jobs.DeliveryOutcome{Err: fmt.Errorf("filedest: write action %d: %w", d.ID, err)}
	}
	f.torn = false
	if f.sync && f.file != nil {
		if err := f.file.Sync(); err != nil {
			return jobs.DeliveryOutcome{Err: fmt.Errorf("filedest: sync action %d: %w", d.ID, err)}
		}
	}
	return jobs.DeliveryOutcome{}
}

// Close closes the file; it does nothing for standard output or a writer.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.file == nil {
		return nil
	}
	if err := f.file.Close(); err != nil {
		return fmt.Errorf("filedest: close: %w", err)
	}
	return nil
}
