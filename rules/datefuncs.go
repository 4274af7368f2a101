package rules

import (
	"fmt"
	"reflect"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/conf"
)

// dateOptions are the expression options for dates: the date function,
// the helpers dateVisitor rewrites calls into, and the comparison of two
// dates. The helpers' names contain a dot, which no rule can write, so
// only the rewrites call them. Each takes the as-of time last: the
// environment gives it in the rule set's zone.
var dateOptions = []expr.Option{
	// date("2024-06-30") is a constant: the optimizer calls parseDateLiteral
	// when the program is compiled (dateVisitor has checked the text).
	// date(t) of a time becomes date.in(t, as_of).
	expr.Function("date", func(p ...any) (any, error) {
		switch x := p[0].(type) {
		case string:
			return parseDateLiteral(x)
		case time.Time:
			return x, nil
		}
		return nil, nullArg("date", p[0])
	}, new(func(string) dateValue), new(func(time.Time) dateValue), new(func(dateValue) dateValue)),
	func(c *conf.Config) { c.ConstFns["date"] = reflect.ValueOf(parseDateLiteral) },
	expr.Function("date.in", func(p ...any) (any, error) {
		t, asOf, err := twoTimes("date", p)
		if err != nil {
			return nil, err
		}
		return DateIn(t, asOf.Location()), nil
	}, new(func(time.Time, time.Time) dateValue)),
	expr.Function("year.in", func(p ...any) (any, error) {
		t, asOf, err := twoTimes("year", p)
		if err != nil {
			return nil, err
		}
		return t.In(asOf.Location()).Year(), nil
	}, new(func(time.Time, time.Time) int)),
	expr.Function("month.in", func(p ...any) (any, error) {
		t, asOf, err := twoTimes("month", p)
		if err != nil {
			return nil, err
		}
		return int(t.In(asOf.Location()).Month()), nil
	}, new(func(time.Time, time.Time) int)),
	expr.Function("months_between.in", func(p ...any) (any, error) {
		a, b, err := twoTimes("months_between", p)
		if err != nil {
			return nil, err
		}
		asOf, ok := p[2].(time.Time)
		if !ok {
			return nil, nullArg("months_between", p[2])
		}
		return monthsBetween(a, b.In(asOf.Location())), nil
	}, new(func(time.Time, time.Time, time.Time) int)),
	dateComparison("<", "date.lt", time.Time.Before),
	dateComparison(">", "date.gt", time.Time.After),
	dateComparison("<=", "date.le", func(a, b time.Time) bool { return !a.After(b) }),
	dateComparison(">=", "date.ge", func(a, b time.Time) bool { return !a.Before(b) }),
}

// dateComparison lets op compare two dates, which the checker does not
// know how to order (it orders times): expr replaces a < b of two dates
// with a call of fn.
func dateComparison(op, fn string, cmp func(a, b time.Time) bool) expr.Option {
	return func(c *conf.Config) {
		expr.Function(fn, func(p ...any) (any, error) {
			a, b, err := twoTimes(op, p)
			if err != nil {
				return nil, err
			}
			return cmp(a, b), nil
		}, new(func(dateValue, dateValue) bool))(c)
		expr.Operator(op, fn)(c)
	}
}

// parseDateLiteral reads the text of date("2024-06-30").
func parseDateLiteral(s string) (time.Time, error) {
	d, ok := parseDateOnly(s)
	if !ok {
		return time.Time{}, fmt.Errorf("date: %q is not a date (write 2024-06-30)", s)
	}
	return d, nil
}
