package rules

import (
	"fmt"
	"strings"
	"unicode"
)

// maxDerivedSource bounds one declaration, as MaxExprBytes bounds an
// expression.
const maxDerivedSource = 512

type dtokKind int

const (
	dEOF dtokKind = iota
	dName
	dNumber
	dDuration
	dString
	dPunct // ( ) , [ ] .. = ==
)

// dtoken is one token of a declaration; off is its offset in runes.
type dtoken struct {
	kind dtokKind
	text string
	off  int
}

// derivedError is a problem at a rune offset of the declaration.
type derivedError struct {
	off       int
	msg, hint string
}

func (e *derivedError) Error() string { return e.msg }

func errAt(off int, hint, format string, args ...any) *derivedError {
	return &derivedError{off: off, msg: fmt.Sprintf(format, args...), hint: hint}
}

// lexDerived splits src into tokens.
func lexDerived(src string) ([]dtoken, *derivedError) {
	rs := []rune(src)
	var out []dtoken
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"' || r == '\'':
			j, text, err := lexString(rs, i)
			if err != nil {
				return nil, err
			}
			out = append(out, dtoken{kind: dString, text: text, off: i})
			i = j
		case isDigit(r):
			j := i
			for j < len(rs) && (isDigit(rs[j]) || rs[j] == '.' && j+1 < len(rs) && isDigit(rs[j+1])) {
				j++
			}
			kind := dNumber
			for j < len(rs) && unicode.IsLetter(rs[j]) {
				j, kind = j+1, dDuration
			}
			out = append(out, dtoken{kind: kind, text: string(rs[i:j]), off: i})
			i = j
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(rs) && (rs[j] == '_' || unicode.IsLetter(rs[j]) || isDigit(rs[j])) {
				j++
			}
			out = append(out, dtoken{kind: dName, text: string(rs[i:j]), off: i})
			i = j
		case strings.ContainsRune("(),[]", r):
			out = append(out, dtoken{kind: dPunct, text: string(r), off: i})
			i++
		case r == '.' && i+1 < len(rs) && rs[i+1] == '.':
			out = append(out, dtoken{kind: dPunct, text: "..", off: i})
			i += 2
		case r == '=':
			n := 1
			if i+1 < len(rs) && rs[i+1] == '=' {
				n = 2
			}
			out = append(out, dtoken{kind: dPunct, text: "=", off: i})
			i += n
		default:
			return nil, errAt(i, "write a call such as sum(amount, last 365d)", "unexpected %q", string(r))
		}
	}
	return append(out, dtoken{kind: dEOF, off: len(rs)}), nil
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// lexString reads a quoted string starting at i; it returns the offset
// after it.
func lexString(rs []rune, i int) (int, string, *derivedError) {
	q := rs[i]
	var b strings.Builder
	for j := i + 1; j < len(rs); j++ {
		switch {
		case rs[j] == '\\' && j+1 < len(rs):
			j++
			b.WriteRune(rs[j])
		case rs[j] == q:
			return j + 1, b.String(), nil
		default:
			b.WriteRune(rs[j])
		}
	}
	return 0, "", errAt(i, "close the quote", "unterminated string")
}
