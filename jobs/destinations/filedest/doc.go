// Package filedest is the file destination: it appends each action as one
// JSON line (JSON Lines) to a file or to standard output, for batch
// pipelines that read the actions rather than receive them.
package filedest
