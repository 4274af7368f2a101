package jobs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tierflow/tierflow/engine"
)

// derivedSpill is the first pass's derived rows, one per customer of the
// run in key order, in a temporary file ($TMPDIR, else /tmp) that the
// run's pass reads back in the same order: a few dozen bytes a customer
// on disk, none in memory. Records are spill.go's encoding, each after
// its length.
type derivedSpill struct {
	f *os.File
	w *bufio.Writer
	n int64
}

func newDerivedSpill() (*derivedSpill, error) {
	f, err := os.CreateTemp("", "tierflow-derived-*")
	if err != nil {
		return nil, fmt.Errorf("spill the derived facts to the temporary directory: %w", err)
	}
	return &derivedSpill{f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

func (s *derivedSpill) write(c *engine.Customer) error {
	b, err := encodeSeq(seqCustomer{seq: uint64(s.n), c: *c})
	if err != nil {
		return err
	}
	var n [binary.MaxVarintLen64]byte
	if _, err := s.w.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))]); err != nil {
		return s.failed(err)
	}
	if _, err := s.w.Write(b); err != nil {
		return s.failed(err)
	}
	s.n++
	return nil
}

func (s *derivedSpill) failed(err error) error {
	return fmt.Errorf("spill the derived facts to the temporary directory: %w", err)
}

// finish flushes what is written.
func (s *derivedSpill) finish() error {
	if err := s.w.Flush(); err != nil {
		return s.failed(err)
	}
	return nil
}

// open reads the rows back from the start.
func (s *derivedSpill) open() (custIter, error) {
	f, err := os.Open(s.f.Name())
	if err != nil {
		return nil, s.failed(err)
	}
	return &spillIter{f: f, r: bufio.NewReaderSize(f, 1<<16)}, nil
}

// remove deletes the file.
func (s *derivedSpill) remove() error {
	return errors.Join(s.f.Close(), os.Remove(s.f.Name()))
}

// spillIter reads a derivedSpill's rows in order.
type spillIter struct {
	f   *os.File
	r   *bufio.Reader
	buf []byte
	err error
}

func (it *spillIter) next() *engine.Customer {
	if it.err != nil {
		return nil
	}
	n, err := binary.ReadUvarint(it.r)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err == nil {
		if uint64(cap(it.buf)) < n {
			it.buf = make([]byte, n)
		}
		it.buf = it.buf[:n]
		_, err = io.ReadFull(it.r, it.buf)
	}
	var sc seqCustomer
	if err == nil {
		sc, err = decodeSeq(it.buf)
	}
	if err != nil {
		it.err = fmt.Errorf("read back the derived facts spilled to the temporary directory: %w", err)
		return nil
	}
	return &sc.c
}

func (it *spillIter) Err() error { return it.err }
func (it *spillIter) close()     { it.f.Close() }
