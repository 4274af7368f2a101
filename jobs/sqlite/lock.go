package sqlite

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// An apply holds its rule set's lock as an exclusive lock on a small file
// next to the database, <file>-lock-<rule set>. The operating system
// releases it when the apply ends or its process dies (even by SIGKILL),
// so a crashed apply never leaves the rule set locked; a second apply of
// the rule set, in this process or another, finds it taken at once (within about 130 ms, see tryLock).
//
// The lock is not a row in the database: a row would outlive a killed
// process, and holding SQLite's write lock for a whole apply would stop
// every other writer (run records, slot claims, other rule sets' commits,
// queue consumers) for as long as the apply evaluates.

var safeName = regexp.MustCompile(`^[A-Za-z0-9_]{1,63}$`)

// lockPath is the lock file of a rule set's applies.
func (s *Store) lockPath(ruleset string) string {
	name := ruleset
	if !safeName.MatchString(name) {
		sum := sha256.Sum256([]byte(ruleset))
		name = hex.EncodeToString(sum[:8])
	}
	return s.path + "-lock-" + name
}
