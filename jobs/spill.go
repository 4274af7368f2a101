package jobs

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lanrat/extsort"

	"github.com/tierflow/tierflow/engine"
)

// SortChunk is how many customers the external sort of an unordered
// facts source (a file, or keys that are normalised) holds in memory at
// a time; a source with more is sorted in runs spilled to temporary files
// (in $TMPDIR, else a disk-backed directory such as /var/tmp) and merged.
// Two or three chunks are alive at once, a few hundred bytes a customer.
var SortChunk = 20000

// seqCustomer is a customer with its place in the source, so that the
// sort keeps rows with equal keys in source order (extsort is not stable)
// and on_duplicate: first and last mean what they say.
type seqCustomer struct {
	seq uint64
	c   engine.Customer
}

func compareSeq(a, b seqCustomer) int {
	if c := cmp.Compare(a.c.Key, b.c.Key); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// sortedIter sorts the customers of in by key (then source order) with
// bounded memory.
type sortedIter struct {
	in     custIter
	cancel context.CancelFunc
	out    <-chan seqCustomer
	errc   <-chan error
	err    error
	done   bool
	inErr  chan error
}

func sortIter(ctx context.Context, in custIter) *sortedIter {
	ctx, cancel := context.WithCancel(ctx)
	input := make(chan seqCustomer, 256)
	s := &sortedIter{in: in, cancel: cancel, inErr: make(chan error, 1)}
	go func() {
		defer close(input)
		var seq uint64
		for c := in.next(); c != nil; c = in.next() {
			select {
			case input <- seqCustomer{seq: seq, c: *c}:
			case <-ctx.Done():
				s.inErr <- ctx.Err()
				return
			}
			seq++
		}
		s.inErr <- in.Err()
	}()
	sorter, out, errc := extsort.Generic(input, decodeSeq, encodeSeq, compareSeq, &extsort.Config{
		ChunkSize: SortChunk, NumWorkers: 2, ChanBuffSize: 1, SortedChanBuffSize: 256,
	})
	s.out, s.errc = out, errc
	go sorter.Sort(ctx)
	return s
}

func (s *sortedIter) next() *engine.Customer {
	if s.done {
		return nil
	}
	sc, ok := <-s.out
	if !ok {
		s.done = true
		// The input's error comes first: a sort that failed because its
		// input stopped says less than why the input stopped.
		if err := <-s.inErr; err != nil {
			s.err = err
		} else if err := <-s.errc; err != nil {
			s.err = fmt.Errorf("sort the facts by key (on disk, in the temporary directory): %w", err)
		}
		return nil
	}
	// Stages downstream hold on to a customer while reading the next.
	c := sc.c
	return &c
}

func (s *sortedIter) Err() error { return s.err }

func (s *sortedIter) close() {
	s.cancel()
	for range s.out {
	}
	s.in.close()
}

// The spill encoding of a customer: seq, key, then each fact as a tag
// byte and its value, then the fact errors as fact name and message. It
// is read back only by the process that wrote it.
const (
	tagNull byte = iota
	tagFloat
	tagInt
	tagString
	tagTrue
	tagFalse
	tagTime
)

func encodeSeq(sc seqCustomer) ([]byte, error) {
	c := &sc.c
	b := make([]byte, 0, 64+len(c.Key))
	b = binary.AppendUvarint(b, sc.seq)
	b = appendString(b, c.Key)
	b = binary.AppendUvarint(b, uint64(len(c.Facts)))
	for _, v := range c.Facts {
		switch x := v.(type) {
		case nil:
			b = append(b, tagNull)
		case float64:
			b = append(b, tagFloat)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		case int:
			b = append(b, tagInt)
			b = binary.AppendVarint(b, int64(x))
		case string:
			b = append(b, tagString)
			b = appendString(b, x)
		case bool:
			if x {
				b = append(b, tagTrue)
			} else {
				b = append(b, tagFalse)
			}
		case time.Time:
			b = append(b, tagTime)
			b = binary.AppendVarint(b, x.Unix())
			b = binary.AppendUvarint(b, uint64(x.Nanosecond()))
		default:
			return nil, fmt.Errorf("customer %s: fact value %v (%T) cannot be sorted", c.Key, v, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(c.FactErrors)))
	for _, fe := range c.FactErrors {
		b = appendString(b, fe.Fact)
		b = appendString(b, fe.Err.Error())
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errSpill = errors.New("corrupt spill record")

type spillReader struct {
	b   []byte
	err error
}

func (r *spillReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errSpill
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *spillReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errSpill
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *spillReader) str() string {
	n := r.uvarint()
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errSpill
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *spillReader) byte1() byte {
	if len(r.b) == 0 {
		r.err = errSpill
		return 0
	}
	x := r.b[0]
	r.b = r.b[1:]
	return x
}

func decodeSeq(b []byte) (seqCustomer, error) {
	r := &spillReader{b: b}
	var sc seqCustomer
	sc.seq = r.uvarint()
	sc.c.Key = r.str()
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		return sc, errSpill
	}
	sc.c.Facts = make([]any, n)
	for i := range sc.c.Facts {
		switch r.byte1() {
		case tagNull:
		case tagFloat:
			if len(r.b) < 8 {
				return sc, errSpill
			}
			sc.c.Facts[i] = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
			r.b = r.b[8:]
		case tagInt:
			sc.c.Facts[i] = int(r.varint())
		case tagString:
			sc.c.Facts[i] = r.str()
		case tagTrue:
			sc.c.Facts[i] = true
		case tagFalse:
			sc.c.Facts[i] = false
		case tagTime:
			sec := r.varint()
			nsec := r.uvarint()
			sc.c.Facts[i] = time.Unix(sec, int64(nsec)).UTC()
		default:
			return sc, errSpill
		}
		if r.err != nil {
			return sc, r.err
		}
	}
	ne := r.uvarint()
	if r.err != nil || ne > uint64(len(r.b)) {
		return sc, errSpill
	}
	for range ne {
		fact, msg := r.str(), r.str()
		sc.c.FactErrors = append(sc.c.FactErrors, engine.FactError{Fact: fact, Err: errors.New(msg)})
	}
	return sc, r.err
}
