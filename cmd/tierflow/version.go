package main

import (
	"runtime/debug"
	"strings"
)

// versionString is tierflow's version: the one set at build time, else
// what the Go toolchain recorded in the binary (versionFrom).
func versionString() string {
	if version != "dev" {
		return version
	}
	info, _ := debug.ReadBuildInfo()
	return versionFrom(info)
}

// versionFrom reads a version from build information: the module's
// version for `go install github.com/tierflow/tierflow/cmd/tierflow@v1.2.0`
// (or a pseudo-version for @latest between releases), else, for a build
// in a checkout, "dev" with the VCS revision and whether the tree was
// modified; "dev" when there is neither.
func versionFrom(info *debug.BuildInfo) string {
	if info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "dev (" + strings.TrimSpace(rev) + modified + ")"
}
