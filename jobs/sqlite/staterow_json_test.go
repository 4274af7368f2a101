package sqlite

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The JSON arrays of a staged state row read back as the values staged:
// plain names as they are, any other text escaped as JSON, times in
// timeLayout, null where nothing is set.
func TestStateArraysJSON(t *testing.T) {
	for _, s := range []string{"vip", "won_back", `a"b`, `back\slash`, "新客户", "tab\there", "", "\x7f"} {
		var a jsonArray
		a.text(s)
		a.null()
		var got []*string
		if err := json.Unmarshal([]byte(a.String()), &got); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, a.String(), err)
		}
		if len(got) != 2 || got[0] == nil || *got[0] != s || got[1] != nil {
			t.Errorf("%q: %s reads back as %v", s, a.String(), got)
		}
	}
	at := time.Date(2024, 7, 1, 8, 30, 0, 123456000, time.FixedZone("CST", 8*3600))
	var a jsonArray
	a.time(at)
	var got []string
	if err := json.Unmarshal([]byte(a.String()), &got); err != nil || len(got) != 1 || got[0] != formatTime(at) {
		t.Errorf("time: %s (%v), want [%q]", a.String(), err, formatTime(at))
	}
}

func TestUniqueKey(t *testing.T) {
	s, err := openTest(t.Context(), Config{Path: filepath.Join(t.TempDir(), "t.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckUniqueKey(t, s.DB().DB, Dialect)
}
