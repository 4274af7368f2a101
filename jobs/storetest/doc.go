// Package storetest is the conformance suite of tierflow's stores: one
// set of cases, run against every backend (jobs/postgres, the reference,
// and jobs/sqlite), that pins down what a store must do for plan, apply,
// history, explain, actions, runs and serve to behave the same on it.
//
// A backend's test calls Run with a function that makes a new, empty
// database and says how to open a store on it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Backend {
//			path := filepath.Join(t.TempDir(), "tierflow.db")
//			return storetest.Backend{Open: ..., FactsDDL: ..., Contents: ..., SetUpVersion: ...}
//		})
//	}
//
// The cases fill a customer_facts table for the retail example
// (examples/retail/retail.yaml) with customers generated from their ids,
// so that every backend holds the same facts, and change the facts with
// SQL both dialects accept. They run the example without its contact
// limits and holdouts (Unwithheld); the follow-up cases test those, and
// outcomes, on small rule sets of their own.
package storetest
