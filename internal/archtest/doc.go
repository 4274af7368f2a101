// Package archtest checks the shape of the module: which packages may
// import which (docs: STYLE.md, "The shape of the house"). It holds
// tests only.
package archtest
