package rules

import (
	"crypto/sha256"
	"encoding/binary"
)

// HoldoutBucket places a customer in one of 10,000 buckets for an
// action's holdout: the first four bytes of the SHA-256 of
//
//	ruleset "\n" action "\n" salt "\n" customer_key
//
// (UTF-8) read as a big-endian unsigned integer, modulo 10,000. A
// customer is held out when its bucket is below the holdout's basis
// points (Holdout.Holds), so 10% holds out buckets 0-999. The same key
// always lands in the same bucket, whatever the run, the machine or the
// order of customers, and it can be computed outside tierflow
// (docs/rules.md, "Holdout groups", gives SQL and Python).
func HoldoutBucket(ruleset, action, salt, key string) int {
	h := sha256.New()
	for _, s := range []string{ruleset, "\n", action, "\n", salt, "\n", key} {
		h.Write([]byte(s))
	}
	var sum [sha256.Size]byte
	return int(binary.BigEndian.Uint32(h.Sum(sum[:0])[:4]) % 10000)
}

// Holds reports whether the customer key is in the holdout group of
// action a of rule set rs.
func (h Holdout) Holds(rs, action, key string) bool {
	return h.BasisPoints > 0 && HoldoutBucket(rs, action, h.Salt, key) < h.BasisPoints
}
