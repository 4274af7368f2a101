package gen

import "time"

// Kind is the type of a generated column.
type Kind int

// Column kinds, with the Value field that holds them and the SQL type
// the loaders create.
const (
	KindID      Kind = iota + 1 // Int; bigint primary key
	KindNumber                  // Num; numeric
	KindInteger                 // Int; integer
	KindDate                    // Time at UTC midnight; date
	KindTime                    // Time; timestamptz
	KindText                    // Text; text
)

// Column is one generated column: a fact, or the customer key.
type Column struct {
	Name     string
	Kind     Kind
	Nullable bool
}

// Value is one cell of a row; the column's Kind says which field holds
// it. It is a struct rather than an interface so that streaming rows
// allocates nothing.
type Value struct {
	Null bool
	Int  int64
	Num  float64
	Time time.Time
	Text string
}

// Any returns the value as database drivers and the rules package take
// it: int64, float64, int, time.Time, string, or nil for a null.
func (v Value) Any(k Kind) any {
	if v.Null {
		return nil
	}
	switch k {
	case KindID:
		return v.Int
	case KindInteger:
		return int(v.Int)
	case KindNumber:
		return v.Num
	case KindDate, KindTime:
		return v.Time
	}
	return v.Text
}

// Rows is what the writers and loaders read: a stream of rows with a
// fixed set of columns. Both generators are Rows.
type Rows interface {
	// Columns describes the columns, the key (customer_id) first.
	Columns() []Column
	// Len is the number of rows the stream produces in all.
	Len() int64
	// NextRow fills row, which has one Value per column, with the next
	// row, or returns false when the stream is done.
	NextRow(row []Value) bool
}

// RetailColumns are the columns of a retail customer: the facts of
// examples/retail/retail.yaml, and region.
var RetailColumns = []Column{
	{Name: "customer_id", Kind: KindID},
	{Name: "spend_12m", Kind: KindNumber},
	{Name: "spend_prev_12m", Kind: KindNumber},
	{Name: "orders_12m", Kind: KindInteger},
	{Name: "first_order_at", Kind: KindDate},
	{Name: "last_order_at", Kind: KindTime, Nullable: true},
	{Name: "channel", Kind: KindText},
	{Name: "region", Kind: KindText},
}

// Columns returns RetailColumns.
func (g *Generator) Columns() []Column { return RetailColumns }

// NextRow is Next as a row of RetailColumns.
func (g *Generator) NextRow(row []Value) bool {
	c, ok := g.Next()
	if ok {
		c.Row(row)
	}
	return ok
}

// Row fills row with the customer's values in RetailColumns order.
func (c *Customer) Row(row []Value) {
	_ = row[7]
	row[0] = Value{Int: c.ID}
	row[1] = Value{Num: c.Spend12m}
	row[2] = Value{Num: c.SpendPrev12m}
	row[3] = Value{Int: int64(c.Orders12m)}
	row[4] = Value{Time: c.FirstOrderAt}
	row[5] = Value{Time: c.LastOrderAt, Null: c.LastOrderAt.IsZero()}
	row[6] = Value{Text: c.Channel}
	row[7] = Value{Text: c.Region}
}

// AccountColumns are the columns of a B2B account: the facts of
// examples/b2b/key_accounts.yaml and churn_signals.yaml, and region.
var AccountColumns = []Column{
	{Name: "customer_id", Kind: KindID},
	{Name: "customer_since", Kind: KindDate},
	{Name: "order_months_12m", Kind: KindInteger},
	{Name: "revenue_12m", Kind: KindNumber},
	{Name: "contract_value", Kind: KindNumber},
	{Name: "days_past_due_avg", Kind: KindNumber},
	{Name: "credit_limit", Kind: KindNumber},
	{Name: "receivables", Kind: KindNumber},
	{Name: "credit_score", Kind: KindInteger, Nullable: true},
	{Name: "purchases_12m", Kind: KindNumber},
	{Name: "purchases_prev_12m", Kind: KindNumber},
	{Name: "last_order_at", Kind: KindTime, Nullable: true},
	{Name: "account_manager_left_at", Kind: KindTime, Nullable: true},
	{Name: "satisfaction_score", Kind: KindNumber, Nullable: true},
	{Name: "satisfaction_prev", Kind: KindNumber, Nullable: true},
	{Name: "region", Kind: KindText},
}

// Columns returns AccountColumns.
func (g *AccountGenerator) Columns() []Column { return AccountColumns }

// NextRow is Next as a row of AccountColumns.
func (g *AccountGenerator) NextRow(row []Value) bool {
	a, ok := g.Next()
	if ok {
		a.Row(row)
	}
	return ok
}

// Row fills row with the account's values in AccountColumns order.
func (a *Account) Row(row []Value) {
	_ = row[15]
	row[0] = Value{Int: a.ID}
	row[1] = Value{Time: a.CustomerSince}
	row[2] = Value{Int: int64(a.OrderMonths12m)}
	row[3] = Value{Num: a.Revenue12m}
	row[4] = Value{Num: a.ContractValue}
	row[5] = Value{Num: a.DaysPastDueAvg}
	row[6] = Value{Num: a.CreditLimit}
	row[7] = Value{Num: a.Receivables}
	row[8] = Value{Int: int64(a.CreditScore), Null: a.CreditScore == 0}
	row[9] = Value{Num: a.Purchases12m}
	row[10] = Value{Num: a.PurchasesPrev12m}
	row[11] = Value{Time: a.LastOrderAt, Null: a.LastOrderAt.IsZero()}
	row[12] = Value{Time: a.ManagerLeftAt, Null: a.ManagerLeftAt.IsZero()}
	row[13] = Value{Num: a.Satisfaction, Null: a.Satisfaction == 0}
	row[14] = Value{Num: a.SatisfactionPrev, Null: a.SatisfactionPrev == 0}
	row[15] = Value{Text: a.Region}
}
