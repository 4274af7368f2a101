package kernel

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The segments column decodes to a map, NULL (a row queued before
// migration 0006) to an empty one, and each distinct value once while
// the cache has room.
func TestSegmentsCache(t *testing.T) {
	c := segmentsCache{}
	m, err := c.decode([]byte(`{"lifecycle": "at_risk", "tier": "vip"}`))
	if err != nil || !reflect.DeepEqual(m, map[string]string{"lifecycle": "at_risk", "tier": "vip"}) {
		t.Fatalf("decode = %v, %v", m, err)
	}
	again, _ := c.decode([]byte(`{"lifecycle": "at_risk", "tier": "vip"}`))
	if reflect.ValueOf(again).Pointer() != reflect.ValueOf(m).Pointer() {
		t.Error("the same segments decoded twice")
	}
	if m, err := c.decode(nil); err != nil || m == nil || len(m) != 0 {
		t.Errorf("NULL decodes to %#v, %v; want an empty map", m, err)
	}
	if _, err := c.decode([]byte(`["at_risk"]`)); err == nil || !strings.Contains(err.Error(), `segments "[\"at_risk\"]"`) {
		t.Errorf("a JSON array: %v; want an error quoting it", err)
	}
	for i := range maxSegmentsCache + 10 {
		if _, err := c.decode(fmt.Appendf(nil, `{"n": "%d"}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c) != maxSegmentsCache {
		t.Errorf("the cache holds %d values; want at most %d", len(c), maxSegmentsCache)
	}
}
