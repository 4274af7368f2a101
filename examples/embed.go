// Package examples holds the example rule sets people copy (retail, b2b)
// and CI recipes. It embeds the retail example so `tierflow demo` can
// write it into an empty directory.
package examples

import "embed"

// Retail holds retail/retail.yaml and its tests, retail/retail_test.yaml.
//
//go:embed retail/retail.yaml retail/retail_test.yaml
var Retail embed.FS
