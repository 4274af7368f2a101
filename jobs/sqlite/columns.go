package sqlite

import (
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// columnType maps a declared column type to a fact type, by SQLite's
// affinity rules extended with the usual spellings of booleans and
// times. declared is false for a column with no declared type (an
// expression) or one whose type says nothing (such as JSON): its type
// is inferred from its values.
func columnType(decl string) (t rules.Type, mappable, declared bool) {
	d := strings.ToUpper(strings.TrimSpace(decl))
	if i := strings.IndexByte(d, '('); i >= 0 {
		d = strings.TrimSpace(d[:i]) // VARCHAR(20), DECIMAL(10,2)
	}
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(d, s) {
				return true
			}
		}
		return false
	}
	switch {
	case d == "":
		return 0, true, false
	case has("BOOL"):
		return rules.TypeBool, true, true
	case has("DATE") || strings.HasPrefix(d, "TIMESTAMP"):
		return rules.TypeTime, true, true
	case has("INT"):
		return rules.TypeInteger, true, true
	case has("CHAR", "CLOB", "TEXT", "UUID"):
		return rules.TypeString, true, true
	case has("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL", "MONEY"):
		return rules.TypeNumber, true, true
	case has("BLOB"):
		return 0, false, true
	}
	return 0, true, false
}
