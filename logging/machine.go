package logging

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

// What a JSON record holds (docs/logs.md): values a program can use
// without parsing prose. One function, machineAttr, makes every record so
// at the handler, rather than each call site:
//
//   - a duration is a number of seconds, its key suffixed _s
//     ("delay_s":0.05): a Go duration string ("50ms") or nanoseconds are
//     neither portable nor obvious;
//   - a value with a String method (the enums: a slot's state, a restart
//     policy, a reload mode) is its name, never its number;
//   - an exit status (Status) is structured: exit_code, or signal (the
//     name) with signal_number and core_dumped.
//
// Text records stay as they were (grace=5s, status="killed by SIGTERM"):
// they are for people.

// DurationSuffix ends the key of a duration in JSON records.
const DurationSuffix = "_s"

func machineAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		return slog.Float64(a.Key+DurationSuffix, a.Value.Duration().Seconds())
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case ExitStatus:
			// An empty key inlines the group: the fields sit beside
			// the record's others.
			return slog.Attr{Value: v.fields()}
		case crashStatus:
			return slog.Attr{Value: ExitStatus(v).fields()}
		case error, json.Marshaler, slog.Level:
			return a
		case fmt.Stringer:
			return slog.String(a.Key, v.String())
		}
	}
	return a
}

// ExitStatus is a wait status in a log record: "exit status 3" or "killed
// by SIGTERM" in text, structured fields in JSON (machineAttr).
type ExitStatus unix.WaitStatus

// Status is the attribute an exit is logged with.
func Status(ws unix.WaitStatus) slog.Attr {
	return slog.Any("status", ExitStatus(ws))
}

// Crash is Status for a death that is news (a worker that crashed, a slot
// given up): at WARN and above, its repeats are held back and counted
// (limitFailures). An exit logged by request (-w's reaped orphans) is a
// Status: every one is written.
func Crash(ws unix.WaitStatus) slog.Attr {
	return slog.Any("status", crashStatus(ws))
}

type crashStatus ExitStatus

func (s crashStatus) String() string { return ExitStatus(s).String() }

// String renders the status as the text log shows it: "exit status 3",
// "killed by SIGTERM", "killed by SIGSEGV (core dumped)".
func (s ExitStatus) String() string {
	ws := unix.WaitStatus(s)
	if ws.Signaled() {
		d := "killed by " + forward.Name(ws.Signal())
		if ws.CoreDump() {
			d += " (core dumped)"
		}
		return d
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

// fields are the JSON form: {"exit_code":3}, or {"signal":"SIGTERM",
// "signal_number":15,"core_dumped":false}.
func (s ExitStatus) fields() slog.Value {
	ws := unix.WaitStatus(s)
	if ws.Signaled() {
		return slog.GroupValue(
			slog.String("signal", forward.Name(ws.Signal())),
			slog.Int("signal_number", int(ws.Signal())),
			slog.Bool("core_dumped", ws.CoreDump()))
	}
	return slog.GroupValue(slog.Int("exit_code", ws.ExitStatus()))
}
