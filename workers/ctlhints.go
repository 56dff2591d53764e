package workers

import "fmt"

// What libhv's users type (issue 22). hmain's programs take `-s
// start|stop|restart|status|reload`; pidone ctl takes the verb as a word,
// and has no start: a master is started by running pidone itself. Rather
// than only "unknown verb", ctl says what to do instead.

// ctlVerbHint is a line of advice for word, a verb pidone ctl does not
// know, or "" when there is none.
func ctlVerbHint(word string) string {
	if word == "start" {
		return "hint: there is no start verb: a master starts when pidone runs (pidone --workers N --pidfile PATH -- COMMAND, " +
			"a container's entrypoint); pidone ctl acts on a master that runs (docs/workers.md, \"Coming from libhv's hmain\")\n"
	}
	return ""
}

// ctlSwitchHint is the answer to hmain's `-s VERB`.
func ctlSwitchHint(verb string) string {
	if verbHelp(verb) == "" || verb == "help" {
		return ctlVerbHint(verb)
	}
	return fmt.Sprintf("hint: pidone ctl takes the verb as a word: pidone ctl %s --pidfile PATH\n", verb)
}

// HmainCommandHint is the hint for a command pidone could not find that
// is one of hmain's -s verbs: `pidone -s stop` (tini's -s, --subreaper,
// then the command "stop"), or "" for any other command.
func HmainCommandHint(command string) string {
	switch command {
	case "start", "stop", "restart", "status", "reload":
		return fmt.Sprintf("-s is tini's --subreaper, and %s was taken as the command; libhv's -s %s is pidone ctl %s --pidfile PATH "+
			"(docs/workers.md, \"Coming from libhv's hmain\")", command, command, command)
	}
	return ""
}
