package population_test

import (
	"fmt"

	"github.com/tierflow/tierflow/internal/population"
)

// A run adds every customer's value, freezes the column, then looks each
// customer up.
func ExampleColumn() {
	spend := population.NewColumn("spend_12m", population.Options{})
	for _, v := range []float64{40, 30, 15, 10, 3, 2, 0} {
		if err := spend.Add(v, true); err != nil {
			panic(err)
		}
	}
	_ = spend.Add(0, false) // a customer without spend: left out
	if err := spend.Freeze(); err != nil {
		panic(err)
	}
	cuts, _ := population.NewCuts(0.8, 0.95)
	for _, v := range []float64{40, 15, 10, 3} {
		fmt.Printf("%v: pct_rank %.3f, quintile %d, class %s\n", v, spend.PercentRank(v), spend.Ntile(v, 5), spend.ABC(v, cuts))
	}
	// Output:
	// 40: pct_rank 1.000, quintile 5, class A
	// 15: pct_rank 0.667, quintile 3, class A
	// 10: pct_rank 0.500, quintile 2, class B
	// 3: pct_rank 0.333, quintile 2, class C
}
