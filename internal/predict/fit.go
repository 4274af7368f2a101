package predict

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// FitOptions tunes a maximum-likelihood fit. The zero value is the
// default for every field.
type FitOptions struct {
	// MinRepeaters is the least number of customers with a repeat purchase
	// (x > 0) a fit needs; fewer is an error. 0 means DefaultMinRepeaters.
	MinRepeaters int
	// MaxIterations bounds the optimiser's iterations; reaching it is an
	// error. 0 means DefaultMaxIterations.
	MaxIterations int
	// GradientTolerance is the convergence test: the largest component of
	// the gradient of the mean log-likelihood per customer, with respect to
	// the logarithms of the parameters, must end below it. 0 means
	// DefaultGradientTolerance. At 1e-6 a parameter is within about 1e-6
	// of its optimum, relatively, where the likelihood is curved as on
	// CDNOW; 1e-8 refused fits whose line search had reached float64's
	// precision at a gradient of 1e-7 (seen on generated orders).
	GradientTolerance float64
	// Workers is the number of goroutines that evaluate the likelihood; 0
	// means GOMAXPROCS. The fit is the same whatever the number.
	Workers int
}

// The defaults of [FitOptions].
const (
	DefaultMinRepeaters      = 30
	DefaultMaxIterations     = 200
	DefaultGradientTolerance = 1e-6
)

// maxDrift bounds how far, in natural log, a parameter may move from its
// data-scaled starting point: beyond a factor of a million the likelihood is
// flat towards a boundary (r → 0, b → ∞, ...) and the data do not identify
// the model; the fit is then an error rather than a converged extreme.
var maxDrift = math.Log(1e6)

// evaluationsPerIteration bounds the likelihood evaluations of a fit at
// this many per allowed iteration: a line search that does not end (as on
// a likelihood flat towards a boundary) stops there.
const evaluationsPerIteration = 20

// withDefaults returns o with its zero fields set to the defaults.
func (o FitOptions) withDefaults() FitOptions {
	if o.MinRepeaters <= 0 {
		o.MinRepeaters = DefaultMinRepeaters
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = DefaultMaxIterations
	}
	if o.GradientTolerance <= 0 {
		o.GradientTolerance = DefaultGradientTolerance
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// FitReport is the diagnostics of a fit, for the run record: it
// marshals to JSON, with non-finite values written as 0.
type FitReport struct {
	// Model is "bg/nbd" or "gamma-gamma".
	Model string `json:"model"`
	// Method names the optimiser: BFGS over the log-parameters with an
	// analytic gradient.
	Method string `json:"method"`
	// Parameters are the fitted parameters by name (r, alpha, a, b; p, q,
	// gamma), or where the optimiser stopped when the fit failed.
	Parameters map[string]float64 `json:"parameters"`
	// LogLikelihood is the total log-likelihood at Parameters.
	LogLikelihood float64 `json:"log_likelihood"`
	// Customers is the number of customers the fit read, Repeaters those
	// with x > 0, Groups the distinct inputs the likelihood was summed over.
	Customers int `json:"customers"`
	Repeaters int `json:"repeat_customers"`
	Groups    int `json:"groups"`
	// Iterations, FuncEvaluations and GradEvaluations count the optimiser's
	// major iterations and its evaluations of the likelihood and gradient.
	Iterations      int `json:"iterations"`
	FuncEvaluations int `json:"function_evaluations"`
	GradEvaluations int `json:"gradient_evaluations"`
	// GradientNorm is the largest component of the final gradient of the
	// mean log-likelihood per customer in log-parameters.
	GradientNorm float64 `json:"gradient_norm"`
	// Status is the optimiser's final status (e.g. GradientThreshold).
	Status string `json:"status"`
	// Converged is true when the gradient ended below the tolerance at
	// finite parameters: the only case in which a fit returns a model.
	Converged bool `json:"converged"`
}

// method is [FitReport.Method] for every fit of this package.
const method = "BFGS (gonum optimize, More-Thuente line search), analytic gradient, log-parameters"

// objective evaluates the mean negative log-likelihood per customer at the
// log-parameters theta, and writes its gradient into grad.
type objective func(theta, grad []float64) float64

// problem is one maximum-likelihood fit: a likelihood of n terms, its
// data-scaled start and the names of its parameters.
type problem struct {
	obj    objective
	theta0 []float64
	n      float64
	names  []string
	o      FitOptions
}

// minimize maximises the likelihood and fills rep with the diagnostics.
// It returns the log-parameters at the optimum, or an error saying why the
// fit did not converge.
func (p problem) minimize(rep *FitReport) ([]float64, error) {
	c := &evalCache{obj: p.obj}
	settings := &optimize.Settings{
		GradientThreshold: p.o.GradientTolerance,
		MajorIterations:   p.o.MaxIterations,
		FuncEvaluations:   evaluationsPerIteration * p.o.MaxIterations,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-14, Iterations: 50},
	}
	res, err := optimize.Minimize(optimize.Problem{Func: c.f, Grad: c.g}, p.theta0, settings, &optimize.BFGS{Linesearcher: &optimize.MoreThuente{}})
	if res == nil {
		return nil, fmt.Errorf("%s fit: %w", rep.Model, err)
	}
	theta := res.X
	c.eval(theta)
	rep.Method = method
	rep.Parameters = map[string]float64{}
	for i, name := range p.names {
		rep.Parameters[name] = finite(math.Exp(theta[i]))
	}
	rep.LogLikelihood = finite(-c.fv * p.n)
	rep.Iterations, rep.FuncEvaluations, rep.GradEvaluations = res.MajorIterations, res.FuncEvaluations, res.GradEvaluations
	rep.GradientNorm = finite(infNorm(c.gv))
	rep.Status = res.Status.String()
	if err := p.check(c.fv, c.gv, theta, res, err); err != nil {
		return nil, fmt.Errorf("%s fit did not converge: %w", rep.Model, err)
	}
	rep.Converged = true
	return theta, nil
}

// check returns nil when the optimiser stopped at a finite optimum, with
// f and grad the objective and its gradient there, and otherwise what went
// wrong and what to try.
func (p problem) check(f float64, grad, theta []float64, res *optimize.Result, err error) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || slices.ContainsFunc(grad, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
		return errors.New("the log-likelihood or its gradient is not finite where the optimiser stopped: check the inputs for extreme values")
	}
	for i := range theta {
		if math.Abs(theta[i]-p.theta0[i]) > maxDrift {
			return fmt.Errorf("parameter %s went to %.3g, a million times from its start %.3g: the likelihood has no maximum inside the parameter space, the data do not identify the model", p.names[i], math.Exp(theta[i]), math.Exp(p.theta0[i]))
		}
	}
	if g := infNorm(grad); g >= p.o.GradientTolerance {
		why := fmt.Sprintf("stopped with status %s after %d iterations", res.Status, res.MajorIterations)
		if err != nil {
			why += " (" + err.Error() + ")"
		}
		return fmt.Errorf("%s with gradient %.3g above the tolerance %.3g: the data may not identify the model (too few repeat customers or too short a history); a longer history, or more customers, usually helps", why, g, p.o.GradientTolerance)
	}
	return nil
}

// evalCache lets the optimiser ask for the function and the gradient at
// the same point separately while the likelihood is summed once.
type evalCache struct {
	obj objective
	x   []float64
	fv  float64
	gv  []float64
}

func (c *evalCache) eval(x []float64) {
	if c.x != nil && slices.Equal(c.x, x) {
		return
	}
	if c.x == nil {
		c.x, c.gv = make([]float64, len(x)), make([]float64, len(x))
	}
	copy(c.x, x)
	c.fv = c.obj(x, c.gv)
}

func (c *evalCache) f(x []float64) float64 { c.eval(x); return c.fv }

func (c *evalCache) g(grad, x []float64) { c.eval(x); copy(grad, c.gv) }

func infNorm(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// finite returns v, or 0 when v is NaN or infinite (JSON has neither).
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
