package views

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// writeGitHub writes one GitHub Actions workflow command per diagnostic,
// ::error or ::warning, with the file relative to run.Dir, the line and
// the column, so that the annotation lands on the line of the pull
// request's diff.
func writeGitHub(w io.Writer, run *CheckRun) error {
	return flush(w, func(b *bytes.Buffer) {
		for _, d := range run.Diagnostics {
			b.WriteString(githubCommand(run.Dir, d))
			b.WriteByte('\n')
		}
	})
}

// githubCommand is `::error file=F,line=L,col=C,title=T::MESSAGE`, the
// title being the field at fault. Properties and message are escaped as
// the workflow-command syntax requires.
func githubCommand(dir string, d rules.Diagnostic) string {
	cmd := "error"
	if d.Severity == rules.SeverityWarning {
		cmd = "warning"
	}
	var props []string
	if d.Pos.File != "" {
		props = append(props, "file="+escapeProperty(relPath(dir, d.Pos.File)))
		if d.Pos.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", d.Pos.Line))
			if d.Pos.Col > 0 {
				props = append(props, fmt.Sprintf("col=%d", d.Pos.Col))
			}
		}
	}
	title, msg := "tierflow check", d.Message
	if d.Field != "" {
		title = d.Field
	}
	if d.Hint != "" {
		msg += " (" + d.Hint + ")"
	}
	props = append(props, "title="+escapeProperty(title))
	return "::" + cmd + " " + strings.Join(props, ",") + "::" + escapeData(msg)
}

// escapeData escapes a workflow command's message: %, CR and LF.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value: as a
// message, and the separators : and , too.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
