package factdigest

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

func sum(t *testing.T, facts ...any) uint64 {
	t.Helper()
	d, err := New().Sum(facts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The encoding is the one the package comment specifies, byte for byte:
// digests written by one version must compare equal in the next.
func TestDigestIsTheSpecifiedEncoding(t *testing.T) {
	at := time.Date(2024, 6, 30, 10, 11, 12, 123456000, time.UTC)
	le := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	var want []byte
	want = append(want, 2) // number 1.5
	want = append(want, le(math.Float64bits(1.5))...)
	want = append(want, 3) // integer 3
	want = append(want, le(3)...)
	want = append(want, 4) // string "vip"
	want = append(want, le(3)...)
	want = append(want, "vip"...)
	want = append(want, 5, 1) // true
	want = append(want, 6)    // the time, in microseconds
	want = append(want, le(uint64(at.UnixMicro()))...)
	want = append(want, 1) // null
	if got := sum(t, 1.5, 3, "vip", true, at, nil); got != xxhash.Sum64(want) {
		t.Errorf("digest %#x, want xxhash of the specified bytes %#x", got, xxhash.Sum64(want))
	}
	if got := sum(t); got != xxhash.Sum64(nil) {
		t.Errorf("no facts: %#x, want %#x", got, xxhash.Sum64(nil))
	}
}

// Every change of a value, of its type, of its place or of the number
// of values changes the digest; equal facts give equal digests however
// they are held.
func TestDigestTellsRowsApart(t *testing.T) {
	at := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	rows := [][]any{
		{}, {nil}, {nil, nil}, {0.0}, {1.0}, {0}, {1}, {""}, {"0"}, {"1"}, {false}, {true},
		{at}, {at.Add(time.Microsecond)}, {"a", "b"}, {"ab", ""}, {"", "ab"}, {"b", "a"},
		{1.0, 2.0}, {2.0, 1.0}, {math.MaxFloat64}, {-1}, {int(math.MaxInt64)},
	}
	seen := map[uint64]int{}
	for i, r := range rows {
		d := sum(t, r...)
		if j, ok := seen[d]; ok {
			t.Errorf("%v and %v have one digest", rows[j], r)
		}
		seen[d] = i
	}
	if sum(t, math.Copysign(0, -1), int64(7)) != sum(t, 0.0, 7) {
		t.Error("-0 and 0, or int64 and int, digest apart")
	}
	if sum(t, at) != sum(t, at.In(time.FixedZone("x", 3600))) {
		t.Error("one instant in two zones digests apart")
	}
}

func TestDigestRefusesUnknownTypes(t *testing.T) {
	if _, err := New().Sum([]any{1.0, []string{"x"}}); err == nil || err.Error() != "fact 1: a []string cannot be digested" {
		t.Errorf("got %v", err)
	}
}

func BenchmarkDigest(b *testing.B) {
	h := New()
	at := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	facts := []any{1520.5, 12, "online", "beijing", true, at, at, nil, 3.25, "vip-program"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Sum(facts); err != nil {
			b.Fatal(err)
		}
	}
}
