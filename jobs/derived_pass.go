package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/tierflow/tierflow/engine"
)

// passOne reads every customer of the run once, before the run's own
// pass: their declared facts from the sources and their derived rows,
// which it joins by key. It feeds the population columns and the models'
// inputs, spills each customer's derived row in key order for the run's
// pass, then freezes the columns and fits the models. Only the columns'
// values (8 bytes a customer each) and the models' inputs (24 or 40
// bytes a customer) stay in memory; rows go to the spill.
func (d *deriver) passOne(ctx context.Context, batchSize int) error {
	fr, err := d.ss.open(ctx, d.base)
	if err != nil {
		return err
	}
	defer fr.Close()
	var rows custIter = emptyIter{}
	if d.l.width() > 0 {
		if rows, err = d.openRows(ctx, batchSize); err != nil {
			return err
		}
		if d.spill, err = newDerivedSpill(); err != nil {
			rows.close()
			return err
		}
	}
	defer rows.close()
	j := &derivedJoin{d: d, rows: rows}
	err = fr.Stream(ctx, batchSize, func(batch []engine.Customer) error {
		for i := range batch {
			if err := j.first(&batch[i]); err != nil {
				return err
			}
		}
		return nil
	})
	// Duplicates are the run's pass's to report, as a failed check.
	var dup *DuplicateKeysError
	if err != nil && !errors.As(err, &dup) {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return d.finishPassOne()
}

// first is fill for the first pass: it records c's values instead of
// setting them.
func (j *derivedJoin) first(c *engine.Customer) error {
	found, err := j.find(c.Key)
	if err != nil {
		return err
	}
	d := j.d
	row := &engine.Customer{Key: c.Key, Facts: d.l.empty()}
	if found != nil {
		row = found
		d.report.Customers++
	}
	facts := d.place(c.Facts)
	for i, at := range d.at {
		facts[at] = row.Facts[i]
	}
	if d.pop != nil {
		if err := d.pop.add(facts); err != nil {
			return err
		}
	}
	if d.models != nil {
		d.models.add(row.Facts[len(d.at):])
	}
	if d.spill != nil {
		return d.spill.write(row)
	}
	return nil
}

// finishPassOne ends the spill, freezes the columns and fits the models.
func (d *deriver) finishPassOne() error {
	if d.spill != nil {
		if err := d.spill.finish(); err != nil {
			return err
		}
	}
	if d.pop != nil {
		if err := d.pop.freeze(); err != nil {
			return fmt.Errorf("population facts of %s: %w", d.rs.Name, err)
		}
		d.report.Population = d.pop.report()
	}
	if d.models != nil {
		err := d.models.fit()
		d.report.Models = d.models.reports
		if err != nil {
			return fmt.Errorf("predicted facts of %s: %w", d.rs.Name, err)
		}
	}
	return nil
}
