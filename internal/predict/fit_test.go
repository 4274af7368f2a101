package predict

import (
	"encoding/json"
	"strings"
	"testing"
)

// population returns n customers aged 30 to 39 periods, each given by f.
func population(n int, f func(i int, T float64) Summary) []Summary {
	out := make([]Summary, n)
	for i := range out {
		out[i] = f(i, 30+float64(i%10))
	}
	return out
}

// TestFitErrors: fits that cannot give a model say why, with the report
// of where the optimiser stopped when it ran, and never return a model.
func TestFitErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       []Summary
		opts    FitOptions
		want    string
		stopped bool // the optimiser ran
	}{
		{"nobody repeats", population(1000, func(_ int, T float64) Summary { return Summary{T: T} }), FitOptions{},
			"0 of 1000 customers made a repeat purchase; at least 30 are needed", false},
		{"too few repeaters", population(1000, func(i int, T float64) Summary {
			if i < 5 {
				return Summary{X: 1, Tx: 3, T: T}
			}
			return Summary{T: T}
		}), FitOptions{MinRepeaters: 10}, "5 of 1000 customers made a repeat purchase; at least 10 are needed", false},
		{"nobody drops out", population(1000, func(_ int, T float64) Summary { return Summary{X: 3, Tx: T, T: T} }), FitOptions{},
			"bg/nbd fit did not converge: parameter", true},
		{"everyone alike", population(1000, func(_ int, T float64) Summary { return Summary{X: 1, Tx: T / 2, T: T} }), FitOptions{},
			"the data do not identify the model", true},
		{"iteration limit", simulate(3000, inDays(paper), 5, true), FitOptions{MaxIterations: 3},
			"did not converge: stopped with status IterationLimit after 3 iterations", true},
		{"no customers", nil, FitOptions{}, "bg/nbd fit: no customers", false},
		{"recency after age", []Summary{{X: 1, Tx: 5, T: 4}}, FitOptions{}, "summary 0 (x=1, t_x=5, T=4): t_x must be between 0 and T", false},
		{"fractional x", []Summary{{T: 4}, {X: 1.5, Tx: 2, T: 4}}, FitOptions{}, "summary 1 (x=1.5, t_x=2, T=4): x must be a whole number", false},
		{"recency without repeats", []Summary{{Tx: 2, T: 4}}, FitOptions{}, "t_x must be 0 when x is 0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rep, err := FitBGNBD(tc.s, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if m != nil {
				t.Errorf("a failed fit returned a model %+v", *m)
			}
			if tc.stopped && (rep == nil || rep.Converged || rep.Status == "" || rep.Iterations == 0) {
				t.Errorf("report %+v: want where the optimiser stopped, not converged", rep)
			}
			if rep != nil {
				if _, err := json.Marshal(rep); err != nil {
					t.Errorf("the report does not marshal: %v", err)
				}
			}
		})
	}
}

func TestFitGammaGammaErrors(t *testing.T) {
	good := make([]Spend, 100)
	for i := range good {
		good[i] = Spend{X: float64(i%4 + 1), Mean: 10 + float64(i%17)}
	}
	for _, tc := range []struct {
		name string
		s    []Spend
		opts FitOptions
		want string
	}{
		{"negative mean", append(append([]Spend(nil), good...), Spend{X: 2, Mean: -3}), FitOptions{},
			"spend 100: mean -3 over 2 repeat purchases: Gamma-Gamma needs a positive mean value"},
		{"too few repeaters", append([]Spend{{}, {}}, good[:5]...), FitOptions{}, "5 of 7 customers made a repeat purchase; at least 30 are needed"},
		{"fractional x", []Spend{{X: 0.5, Mean: 3}}, FitOptions{}, "spend 0: x = 0.5: it must be a whole number"},
		{"iteration limit", good, FitOptions{MaxIterations: 1}, "gamma-gamma fit did not converge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := FitGammaGamma(tc.s, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || m != nil {
				t.Fatalf("model %v, error %v; want no model and an error with %q", m, err, tc.want)
			}
		})
	}
}

// TestFitReportJSON: the report is what the run record stores.
func TestFitReportJSON(t *testing.T) {
	_, rep, err := FitBGNBD(simulate(5000, inDays(paper), 6, true), FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back FitReport
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"model":"bg/nbd"`, `"parameters":{"a":`, `"log_likelihood":`, `"converged":true`, `"status":"GradientThreshold"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("the report's JSON has no %s:\n%s", key, b)
		}
	}
	if back.Parameters["r"] != rep.Parameters["r"] || back.LogLikelihood != rep.LogLikelihood || back.Iterations != rep.Iterations {
		t.Errorf("JSON round trip changed the report: %+v, then %+v", *rep, back)
	}
}
