package filedest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/webhook"
)

// Line is one line of the file: the webhook body's "data" fields plus
// its "id" (docs/webhooks.md), so that a pipeline can read either.
type Line struct {
	// ID is the webhook destination's id for the same action
	// (webhook.MessageID), the same on every attempt, so readers
	// de-duplicate on it.
	ID string `json:"id"`
	webhook.Data
}

// NewLine is the line for delivery d. Times are in UTC.
func NewLine(d *jobs.Delivery) Line {
	ev := webhook.NewEvent(d)
	return Line{ID: ev.ID, Data: ev.Data}
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
