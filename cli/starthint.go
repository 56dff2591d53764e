package cli

import (
	"fmt"
	"strings"

	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/workers"
)

// startFailureAttrs are the log attributes of a command that could not be
// started: the command, the cause, and for a "command" that is really an
// option meant for pidone, how to give it one.
//
// An image whose ENTRYPOINT is ["/pidone", "--"] turns `docker run IMAGE
// --version` into `pidone -- --version`: after "--" everything is the
// command, so pidone looks for a program named --version. No program is
// named like an option, so the hint is safe to give whenever the name that
// was not found starts with a dash.
func startFailureAttrs(e *supervisor.StartError, subreaperAsked bool) []any {
	attrs := []any{"command", e.Command, "error", e.Err}
	if e.NotFound() && len(e.Command) > 1 && strings.HasPrefix(e.Command, "-") {
		attrs = append(attrs, "hint", fmt.Sprintf(
			"%s came after --, so it is the command, not an option of pidone; "+
				"options for pidone itself go before -- (with the image's ENTRYPOINT /pidone --, "+
				"run docker run --entrypoint /pidone IMAGE %s)", e.Command, e.Command))
	}
	// `pidone -s stop`: a libhv user's hmain verb, read as tini's -s
	// (--subreaper) and then the command "stop" (issue 22).
	if e.NotFound() && subreaperAsked {
		if hint := workers.HmainCommandHint(e.Command); hint != "" {
			attrs = append(attrs, "hint", hint)
		}
	}
	return attrs
}
