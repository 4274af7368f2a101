package gen

import (
	"errors"
	"fmt"
	"time"
)

// Limits of a Config.
const (
	// MaxCustomers is the largest population a generator accepts.
	MaxCustomers = 100_000_000
	// DefaultYears is the history over which first orders are spread.
	DefaultYears = 5
	maxYears     = 30
	maxMonths    = 600
)

// Config says which customers to generate. The same Config always gives
// the same customers, in the same order, with the same facts.
type Config struct {
	// Customers is how many customers exist at AsOf. Designed for a
	// thousand to ten million; any count from 1 to MaxCustomers works.
	Customers int
	// Seed picks the population: another seed, other customers.
	Seed int64
	// AsOf is when the facts are taken (a run's as-of time): the 12-month
	// windows end here, and every first order is before it. Required.
	AsOf time.Time
	// Years is the history before AsOf over which customers' first orders
	// are spread; when 0, DefaultYears for Retail and DefaultAccountYears
	// for KeyAccounts.
	Years int
	// Months takes the snapshot this many calendar months after AsOf: the
	// same customers, with the orders they placed (or did not place) in
	// between, plus the customers whose first order falls in between.
	// See Advance.
	Months int
}

// Advance returns the config of a snapshot months calendar months later:
// the same customers, a month (or more) on. Running a rule set on each
// snapshot in turn shows customers moving and actions firing.
func (c Config) Advance(months int) Config {
	c.Months += months
	return c
}

// SnapshotAt is when the facts are taken: AsOf plus Months.
func (c Config) SnapshotAt() time.Time {
	return c.AsOf.UTC().AddDate(0, c.Months, 0)
}

func (c Config) years() int {
	if c.Years == 0 {
		return DefaultYears
	}
	return c.Years
}

// Validate reports what is wrong with the config, naming the field.
func (c Config) Validate() error {
	var errs []error
	if c.Customers < 1 || c.Customers > MaxCustomers {
		errs = append(errs, fmt.Errorf("customers: %d is not between 1 and %d", c.Customers, MaxCustomers))
	}
	if c.AsOf.IsZero() {
		errs = append(errs, errors.New("as-of: required (the date the facts are taken at)"))
	}
	if y := c.years(); y < 1 || y > maxYears {
		errs = append(errs, fmt.Errorf("years: %d is not between 1 and %d", c.Years, maxYears))
	}
	if c.Months < 0 || c.Months > maxMonths {
		errs = append(errs, fmt.Errorf("months: %d is not between 0 and %d", c.Months, maxMonths))
	}
	return errors.Join(errs...)
}
