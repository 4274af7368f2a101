package main

import (
	"runtime/debug"
	"testing"
)

// A binary built by go install reports its module version, one built in
// a checkout its revision: never a bare "dev" when the toolchain knows
// better.
func TestVersionFrom(t *testing.T) {
	t.Parallel()
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"go install @v1.2.0", &debug.BuildInfo{Main: debug.Module{Path: "github.com/tierflow/tierflow", Version: "v1.2.0"}}, "v1.2.0"},
		{"go install @latest between releases", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201142540-b56974f0a1b2"}}, "v0.0.0-20261201142540-b56974f0a1b2"},
		{"go build in a checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("b56974f0a1b2c3d4e5f6", "false")}, "dev (b56974f0a1b2)"},
		{"with local changes", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("b56974f0a1b2c3d4e5f6", "true")}, "dev (b56974f0a1b2, modified)"},
		{"go run", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"no build information", nil, "dev"},
	}
	for _, tt := range tests {
		if got := versionFrom(tt.info); got != tt.want {
			t.Errorf("%s: version %q, want %q", tt.name, got, tt.want)
		}
	}
}
