package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Machine-grade JSON logs (issue 22): every record pidone writes, in every
// mode, through the events that log (start, signal, reap, crash, respawn,
// reload, give-up, stop, leftovers), parses and matches the tables of
// docs/logs.md; and every message in the source is in those tables.

// logKey is one key a message's records may carry.
type logKey struct {
	name     string
	typ      string // string, integer, number, boolean, array
	optional bool
}

// logRow is one message of docs/logs.md.
type logRow struct {
	levels []string
	keys   []logKey
	// exit says the record carries an exit status's fields; exitOptional
	// that it may.
	exit, exitOptional bool
}

var (
	logTableRow = regexp.MustCompile("^\\| (`+)(.+?)`+ \\| ([A-Z, ]+) \\|(.*)\\|$")
	logKeyCell  = regexp.MustCompile("^`([A-Za-z_]+)(\\??)` (string|integer|number|boolean|array)$")
)

// logTable reads the tables of docs/logs.md, by message.
func logTable(t *testing.T) map[string][]logRow {
	t.Helper()
	b, err := os.ReadFile("../../docs/logs.md")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string][]logRow{}
	for _, line := range strings.Split(string(b), "\n") {
		m := logTableRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		msg := strings.TrimSpace(m[2])
		row := logRow{levels: strings.Split(m[3], ", ")}
		for _, cell := range strings.Split(m[4], ", ") {
			switch cell = strings.TrimSpace(cell); cell {
			case "":
			case "*worker*":
				row.keys = append(row.keys, logKey{"group", "string", false}, logKey{"slot", "integer", false},
					logKey{"gen", "integer", false}, logKey{"pid", "integer", true})
			case "*exit*":
				row.exit = true
			case "*exit?*":
				row.exitOptional = true
			default:
				k := logKeyCell.FindStringSubmatch(cell)
				if k == nil {
					t.Fatalf("docs/logs.md: message %q: cannot read key %q", msg, cell)
				}
				row.keys = append(row.keys, logKey{k[1], k[3], k[2] == "?"})
			}
		}
		table[msg] = append(table[msg], row)
	}
	if len(table) < 50 {
		t.Fatalf("docs/logs.md: only %d messages read", len(table))
	}
	return table
}

// exitKeys are the fields of an exit status.
var exitKeys = map[string]string{"exit_code": "integer", "signal": "string", "signal_number": "integer", "core_dumped": "boolean"}

func jsonType(v any) string {
	switch v := v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// typeFits reports whether a value of JSON type got may be documented as
// want: a number may happen to be whole.
func typeFits(got, want string) bool {
	return got == want || got == "integer" && want == "number"
}

// checkRecord says what is wrong with one JSON log line, "" if nothing.
func checkRecord(table map[string][]logRow, line string) string {
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		return fmt.Sprintf("not JSON: %v", err)
	}
	for _, k := range []string{"time", "level", "msg"} {
		if _, ok := rec[k].(string); !ok {
			return fmt.Sprintf("no %s string", k)
		}
	}
	rows, ok := table[rec["msg"].(string)]
	if !ok {
		return "message not in docs/logs.md"
	}
	var why []string
	for _, row := range rows {
		problem := row.check(rec)
		if problem == "" {
			return ""
		}
		why = append(why, problem)
	}
	return strings.Join(why, "; or ")
}

func (row logRow) check(rec map[string]any) string {
	level := rec["level"].(string)
	if !slices.Contains(row.levels, level) {
		return fmt.Sprintf("level %s, documented %v", level, row.levels)
	}
	if n, ok := rec["suppressed"]; ok && (level == "DEBUG" || level == "INFO" || jsonType(n) != "integer") {
		return fmt.Sprintf("suppressed %v at %s", n, level)
	}
	for _, k := range row.keys {
		v, ok := rec[k.name]
		switch {
		case !ok && !k.optional:
			return fmt.Sprintf("no %q", k.name)
		case ok && !typeFits(jsonType(v), k.typ):
			return fmt.Sprintf("%q is %s %v, documented %s", k.name, jsonType(v), v, k.typ)
		}
	}
	_, exited := rec["exit_code"]
	_, killed := rec["signal_number"]
	if row.exit && !exited && !killed {
		return "no exit status (exit_code or signal_number)"
	}
	for name, v := range rec {
		switch name {
		case "time", "level", "msg", "suppressed":
			continue
		}
		if i := slices.IndexFunc(row.keys, func(k logKey) bool { return k.name == name }); i >= 0 {
			continue
		}
		typ, isExit := exitKeys[name]
		switch {
		case !isExit || !row.exit && !row.exitOptional:
			return fmt.Sprintf("key %q is not documented", name)
		case !typeFits(jsonType(v), typ):
			return fmt.Sprintf("%q is %s %v, documented %s", name, jsonType(v), v, typ)
		}
	}
	if killed {
		for k := range exitKeys {
			if _, ok := rec[k]; !ok && k != "exit_code" {
				return fmt.Sprintf("a death by signal without %q", k)
			}
		}
	}
	return ""
}

// checkJSONLog checks every line of a JSON log against the table, and
// returns the messages seen.
func checkJSONLog(t *testing.T, table map[string][]logRow, what string, lines []string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range lines {
		if problem := checkRecord(table, l); problem != "" {
			t.Errorf("%s: %s\n\t%s", what, problem, l)
			continue
		}
		var rec struct{ Msg string }
		_ = json.Unmarshal([]byte(l), &rec)
		seen[rec.Msg] = true
	}
	return seen
}

var jsonLog = []string{"--log-format", "json", "--log-level", "debug"}

func TestEveryJSONLogRecordMatchesTheDocumentedTable(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace (ctl reload)")
	table := logTable(t)
	pidone, workload := bins(t)
	seen := map[string]bool{}
	collect := func(what string, p *nsInit) {
		p.stderr.WaitEOF(t, workersTimeout)
		for m := range checkJSONLog(t, table, what, p.stderr.Snapshot()) {
			seen[m] = true
		}
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare (util-linux) is needed to mount the namespace's own /proc: %v", err)
	}

	t.Run("supervise: forward, hold, reap, stop, kill leftovers", func(t *testing.T) {
		p := startInit(t, append(append([]string{unshare, "--mount", "--mount-proc", "--", pidone}, jsonLog...),
			"-w", "--grace", "300ms", "--delay", "USR1:50ms", "--", workload, "lingerers", "-ignore", "-code", "7")...)
		lingerPids(t, p)
		p.signal(syscall.SIGUSR1)
		p.stderr.WaitFor(t, regexp.MustCompile(`"msg":"forwarding","signal":"SIGUSR1"`), exitTimeout)
		p.signal(syscall.SIGTERM)
		if code := p.exitCode(exitTimeout); code != 7 {
			t.Errorf("exit code %d, want 7", code)
		}
		collect("supervise", p)
	})
	t.Run("supervise: a command that is not there", func(t *testing.T) {
		p := startPidone(t, append(jsonLog, "--", "/nonexistent/command")...)
		p.closeStdin()
		p.exitCode(exitTimeout)
		collect("not found", p)
	})
	t.Run("pause", func(t *testing.T) {
		p := startPidone(t, append(jsonLog, "--pause")...)
		p.stderr.WaitFor(t, regexp.MustCompile(`"msg":"pause: `), exitTimeout)
		p.signal(syscall.SIGTERM)
		p.exitCode(exitTimeout)
		collect("pause", p)
	})
	t.Run("workers: kill, crash, respawn, reload, forward, stop", func(t *testing.T) {
		dir := t.TempDir()
		pidfile, crash := filepath.Join(dir, "app.pid"), filepath.Join(dir, "crash")
		p := startMaster(t, append(jsonLog, "-w", "--workers", "2", "--pidfile", pidfile, "--backoff-min", "20ms", "--ready-after", "200ms",
			"--", workload, "worker", "-crash-if", crash, "-code", "3")...)
		w := waitStarts(t, p, 2, nil)[0]
		// Killed, the worker is respawned into a crash loop, which ends
		// when the crash file goes.
		writeFile(t, crash, "")
		if err := unix.Kill(hostPid(t, p, w.pid), unix.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitStarts(t, p, 4, func(s started) bool { return s.index == w.index })
		os.Remove(crash)
		// Reload once both run and are ready: a worker signalled before
		// its handler is in place would die of the reload signal.
		serving := regexp.MustCompile(`(?m)^main +\d +1 +serving +\d+ +running `)
		eventually(t, workersTimeout, func() (bool, string) {
			_, out := ctlIn(t, p, "status", "--pidfile", pidfile)
			return len(serving.FindAllString(out, -1)) == 2, "ctl status: " + out
		})
		if code, out := ctlIn(t, p, "reload", "--pidfile", pidfile); code != 0 {
			t.Errorf("ctl reload: %d %s", code, out)
		}
		p.signal(syscall.SIGUSR1)
		p.stdout.WaitFor(t, regexp.MustCompile(`^worker sig index=0 pid=\d+ sig=10$`), workersTimeout)
		p.signal(syscall.SIGTERM)
		if code := p.exitCode(workersTimeout); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		collect("workers", p)
	})
	t.Run("workers: a reload that kills, a give-up", func(t *testing.T) {
		p := startMaster(t, append(jsonLog, "--workers", "1", "--fatal-exit", "129", "--", workload, "libhvworker")...)
		p.stdout.WaitFor(t, libhvStart, workersTimeout)
		p.signal(syscall.SIGHUP)
		if code := p.exitCode(workersTimeout); code != 1 {
			t.Errorf("exit code %d, want 1 (the slot given up)", code)
		}
		collect("reload kill", p)
	})
	t.Run("workers: replace reload", func(t *testing.T) {
		p := startMaster(t, append(jsonLog, "--workers", "1", "--reload", "replace", "--ready-after", "100ms", "--grace", "200ms",
			"--", workload, "worker", "-ignore-term")...)
		waitStarts(t, p, 1, nil)
		p.signal(syscall.SIGHUP)
		p.stderr.WaitFor(t, regexp.MustCompile(`"msg":"worker did not stop within the grace period; killing it"`), workersTimeout)
		p.signal(syscall.SIGTERM)
		p.exitCode(workersTimeout)
		collect("replace", p)
	})

	// The events the issue names were all driven.
	for _, msg := range []string{"started", "received", "forwarding", "holding signal (--delay)", "reaped orphan",
		"main child exited", "stopping every process", "killing the remaining processes (SIGKILL)", "no process left; exiting",
		"cannot run command", "pause: reaping whatever is re-parented to pidone; SIGTERM or SIGINT ends it",
		"workers", "worker started", "worker exited", "respawning worker", "reload", "reload signal sent",
		"worker killed by the reload signal", "worker slot given up", "every worker slot is given up; exiting",
		"stopping every worker", "new generation ready; stopping the old one",
		"worker did not stop within the grace period; killing it"} {
		if !seen[msg] {
			t.Errorf("no record %q was written: the scenario did not drive it", msg)
		}
	}
}

// Every message the source logs is in docs/logs.md, so the table is whole.
func TestEveryLogMessageIsDocumented(t *testing.T) {
	table := logTable(t)
	call := regexp.MustCompile(`\.(?:Debug|Info|Warn|Error)\(\s*"((?:[^"\\]|\\.)*)"|\.Log\([^,]+, [^,]+, "((?:[^"\\]|\\.)*)"`)
	concat := regexp.MustCompile(`\.(?:Debug|Info|Warn|Error)\(\s*"((?:[^"\\]|\\.)*)" \+\s*"((?:[^"\\]|\\.)*)"`)
	var files []string
	for _, dir := range []string{".", "init", "workers", "logging", "reap", "forward", "spawn", "cli"} {
		m, _ := filepath.Glob(filepath.Join("../..", dir, "*.go"))
		files = append(files, m...)
	}
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "personality.go" {
			continue // personality.go writes peers' lines, never JSON
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, m := range concat.FindAllStringSubmatch(src, -1) {
			src = strings.Replace(src, m[0], `.Info("`+m[1]+m[2]+`"`, 1)
		}
		for _, m := range call.FindAllStringSubmatch(src, -1) {
			msg := m[1] + m[2]
			if strings.Contains(msg, `\"`) || msg == "" {
				continue
			}
			found++
			if _, ok := table[msg]; !ok {
				// A message built from a prefix: "... its sender is "+who.
				if !slices.ContainsFunc(slices.Collect(mapsKeys(table)), func(k string) bool { return strings.HasPrefix(k, msg) && strings.HasSuffix(msg, " ") }) {
					t.Errorf("%s: message %q is not in docs/logs.md", f, msg)
				}
			}
		}
	}
	if found < 60 {
		t.Errorf("only %d log calls found in the source: the scan is broken", found)
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
