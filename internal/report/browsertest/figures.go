package browsertest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Figures flattens the charts of a report into one number per key, so
// that a test can compare what the page drew with what it computes
// elsewhere (from a database, or from the report's data). Keys, with
// RUN a run id and CLASS SEGMENTATION.SEGMENT ("" for no segment):
//
//	sizes/SEGMENTATION/SEGMENT/RUN                 customers after the run
//	moves/SCOPE/SEGMENTATION/FROM>TO               heatmap cell (latest, period)
//	sankey/SCOPE/SEGMENTATION/FROM>TO              flow diagram link
//	churn/SEGMENTATION/SEGMENT/PERIOD              rate (PERIOD: the x label)
//	actions/SEGMENTATION/ACTION/SEGMENT/STATUS     actions by class and status
//	by-action/ACTION/STATUS                        actions by status
//	coverage/CLASS/RUN                             covered share
//	coverage-latest/CLASS/covered|pending|overdue  customers after the latest run
//	effects/ACTION/CLASS/treated|held_out          churned share at the chart's horizon
//	durations/RUN/STATUS                           seconds
//	errors/RUN/RULE                                rule errors
//
// A chart's zero cells are keys with 0; a comparison should treat a
// missing key as 0.
func Figures(charts []Chart) (map[string]float64, error) {
	f := map[string]float64{}
	for _, c := range charts {
		if err := c.figures(f); err != nil {
			return nil, fmt.Errorf("%s chart %s %s: %w", c.Kind, c.Segmentation, c.Scope, err)
		}
	}
	return f, nil
}

func (c Chart) figures(f map[string]float64) error {
	for _, s := range c.Series {
		switch c.Kind {
		case "moves":
			var cells []struct{ Value [3]float64 }
			if err := json.Unmarshal(s.Data, &cells); err != nil {
				return err
			}
			for _, cell := range cells {
				f["moves/"+c.Scope+"/"+c.Segmentation+"/"+none(c.YAxis[int(cell.Value[1])])+">"+none(c.XAxis[int(cell.Value[0])])] = cell.Value[2]
			}
		case "sankey":
			var links []struct {
				Source, Target string
				Value          float64
			}
			if err := json.Unmarshal(s.Links, &links); err != nil {
				return err
			}
			for _, l := range links {
				f["sankey/"+c.Scope+"/"+c.Segmentation+"/"+none(strings.TrimPrefix(l.Source, "from:"))+">"+none(strings.TrimPrefix(l.Target, "to:"))] = l.Value
			}
		default:
			values, err := seriesValues(s.Data)
			if err != nil {
				return err
			}
			for i, v := range values {
				if v == nil {
					continue
				}
				key, err := c.key(s.ID, i)
				if err != nil {
					return err
				}
				f[key] = *v
			}
		}
	}
	return nil
}

// key names the i-th value of series id.
func (c Chart) key(id string, i int) (string, error) {
	cat := func(axis []string) string { return axis[i] }
	switch c.Kind {
	case "sizes":
		return "sizes/" + c.Segmentation + "/" + id + "/" + cat(c.XAxis), nil
	case "churn":
		return "churn/" + c.Segmentation + "/" + id + "/" + cat(c.XAxis), nil
	case "actions":
		action, segment, _ := strings.Cut(cat(c.YAxis), "/")
		return "actions/" + c.Segmentation + "/" + action + "/" + segment + "/" + id, nil
	case "actions-by-action":
		return "by-action/" + cat(c.XAxis) + "/" + id, nil
	case "coverage":
		return "coverage/" + id + "/" + cat(c.XAxis), nil
	case "coverage-latest":
		return "coverage-latest/" + cat(c.YAxis) + "/" + id, nil
	case "effects":
		return "effects/" + cat(c.XAxis) + "/" + id, nil
	case "durations":
		return "durations/" + cat(c.XAxis) + "/" + id, nil
	case "errors":
		return "errors/" + cat(c.XAxis) + "/" + id, nil
	}
	return "", fmt.Errorf("no figures for charts of kind %q", c.Kind)
}

// seriesValues reads a series' data: numbers, nulls, or {value: number}.
func seriesValues(raw json.RawMessage) ([]*float64, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]*float64, len(items))
	for i, it := range items {
		var v *float64
		if err := json.Unmarshal(it, &v); err != nil {
			var obj struct{ Value *float64 }
			if err := json.Unmarshal(it, &obj); err != nil {
				return nil, fmt.Errorf("item %d: %s", i, it)
			}
			v = obj.Value
		}
		out[i] = v
	}
	return out, nil
}

// none is "" for the page's "(none)".
func none(s string) string {
	if s == "(none)" {
		return ""
	}
	return s
}

// Diff lists the keys with prefix whose figures differ between got and
// want by more than tolerance, a missing key counting as 0; and fails
// when no key has the prefix at all (a chart that drew nothing).
func Diff(got, want map[string]float64, prefix string, tolerance float64) []string {
	var out []string
	seen := false
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		seen = true
		if d := got[k] - want[k]; d > tolerance || d < -tolerance {
			out = append(out, fmt.Sprintf("%s: page %v, want %v", k, got[k], want[k]))
		}
	}
	if !seen {
		out = append(out, "no figure "+prefix+"...")
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
