package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// factsEntry is one customer in a facts file given to explain: the same
// shape as a rule test case, without expectations.
type factsEntry struct {
	Key         string               `yaml:"key"`
	AsOf        string               `yaml:"as_of"`
	Facts       map[string]any       `yaml:"facts"`
	Previous    map[string]yaml.Node `yaml:"previous"`
	LastActions map[string]string    `yaml:"last_actions"`
	line        int
}

// readFactsFile decodes a JSON or YAML facts file holding one customer or
// a list of customers.
func readFactsFile(name string, src []byte) ([]factsEntry, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: file is empty", name)
	}
	doc := root.Content[0]
	items := []*yaml.Node{doc}
	if doc.Kind == yaml.SequenceNode {
		items = doc.Content
	}
	out := make([]factsEntry, 0, len(items))
	for i, item := range items {
		var e factsEntry
		dec := yaml.NewDecoder(bytes.NewReader(mustMarshal(item)))
		dec.KnownFields(true)
		if err := dec.Decode(&e); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:%d: customer %d: %v (expected keys: key, as_of, facts, previous, last_actions)", name, item.Line, i+1, err)
		}
		e.line = item.Line
		if e.Key == "" {
			e.Key = fmt.Sprintf("#%d", i+1)
		}
		out = append(out, e)
	}
	return out, nil
}

func mustMarshal(n *yaml.Node) []byte {
	b, err := yaml.Marshal(n)
	if err != nil {
		return nil
	}
	return b
}

// customer converts an entry into engine input for rs.
func (e *factsEntry) customer(name string, rs *rules.RuleSet) (*engine.Customer, error) {
	where := fmt.Sprintf("%s:%d: customer %s", name, e.line, e.Key)
	row, err := rs.Facts.Row(e.Facts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	c := &engine.Customer{Key: e.Key, Facts: row}
	c.State.Segments = make([]engine.Assignment, len(rs.Segmentations))
	for segName, n := range e.Previous {
		s, i := rs.Segmentation(segName)
		if s == nil {
			return nil, fmt.Errorf("%s: previous: unknown segmentation %q", where, segName)
		}
		var p struct {
			Segment      string `yaml:"segment"`
			Since        string `yaml:"since"`
			PendingSince string `yaml:"pending_since"`
		}
		if n.Kind == yaml.ScalarNode {
			p.Segment = n.Value
		} else if err := n.Decode(&p); err != nil {
			return nil, fmt.Errorf("%s: previous.%s: %v (write a segment name or {segment, since, pending_since})", where, segName, err)
		}
		if s.SegmentIndex(p.Segment) < 0 {
			return nil, fmt.Errorf("%s: previous.%s: no segment %q", where, segName, p.Segment)
		}
		a := engine.Assignment{Segment: p.Segment}
		if a.Since, err = optionalTime(p.Since, rs.Zone()); err != nil {
			return nil, fmt.Errorf("%s: previous.%s.since: %w", where, segName, err)
		}
		if a.PendingSince, err = optionalTime(p.PendingSince, rs.Zone()); err != nil {
			return nil, fmt.Errorf("%s: previous.%s.pending_since: %w", where, segName, err)
		}
		c.State.Segments[i] = a
	}
	c.State.LastActions = make([]time.Time, len(rs.Actions))
	for actName, at := range e.LastActions {
		_, i := rs.Action(actName)
		if i < 0 {
			return nil, fmt.Errorf("%s: last_actions: unknown action %q", where, actName)
		}
		if c.State.LastActions[i], err = rules.ParseTimeIn(at, rs.Zone()); err != nil {
			return nil, fmt.Errorf("%s: last_actions.%s: %w", where, actName, err)
		}
	}
	return c, nil
}

// optionalTime parses a state time of a facts file, as rule tests do: a
// date alone is the start of that day in loc, the rule set's time zone;
// "" is none.
func optionalTime(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return rules.ParseTimeIn(s, loc)
}
