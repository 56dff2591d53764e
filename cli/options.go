package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/internal/control"
	"github.com/pidone/pidone/internal/exitreport"
	"github.com/pidone/pidone/internal/user"
	"github.com/pidone/pidone/logging"
	"github.com/pidone/pidone/spawn"
	"github.com/pidone/pidone/workers"
	"golang.org/x/sys/unix"
)

// settings is what the command line asks for.
type settings struct {
	command     []string
	singleChild bool
	remapExit   []int
	warnOnReap  bool
	pdeathsig   unix.Signal
	verbosity   int         // -v count: 0 warn, 1 info, 2+ debug
	logLevel    *slog.Level // --log-level, overrides -v
	logFormat   string
	showHelp    bool
	showVersion bool
	fromEnv     map[string]bool  // long options the environment set (environment.go)
	workers     *workers.Options // workers mode (options_workers.go); nil unless one of its options is given

	// Lifecycle (docs/lifecycle.md).
	grace    time.Duration // --grace; defaultSettings sets supervisor.DefaultGrace
	graceSet bool          // --grace was given (workers mode has its own default)
	waitAll  bool
	termLog  string
	rewrites forward.Rewrites
	delays   forward.Delays
	pause    bool

	// The exit report and the leftovers policy (issue 21,
	// docs/exit-report.md).
	exitReport      string
	failOnLeftovers bool
	leftoversCode   *int // nil: DefaultLeftoversCode
	controlSocket   string

	// --user and --no-new-privs (internal/user): the credential the main
	// child runs as, resolved while parsing; pidone keeps its own.
	userUID    uint32
	userGID    uint32
	userGroups []uint32 // supplementary groups, set exactly (never nil when userSet)
	userSet    bool
	noNewPrivs bool

	// Only the peer personalities set these (options_tini.go, ...).
	showLicense    bool
	signalGroup    bool // tini -g, catatonit -g: the opposite of singleChild
	peerVerbosity  int  // tini's -v count
	peerDebug      bool // dumb-init -v, catatonit's CATATONIT_DEBUG
	noSetsid       bool // dumb-init -c
	subreaperAsked bool // tini -s: pidone is a subreaper anyway
}

// defaultSettings is what an empty command line means.
func defaultSettings() *settings {
	return &settings{logFormat: "text", grace: supervisor.DefaultGrace}
}

// exitCodeOnLeftovers is --fail-on-leftovers' CODE.
func (s *settings) exitCodeOnLeftovers() int {
	if s.leftoversCode == nil {
		return DefaultLeftoversCode
	}
	return *s.leftoversCode
}

// user is the identity --user asks for the main child, or nil.
func (s *settings) user() *spawn.Credential {
	if !s.userSet {
		return nil
	}
	return &spawn.Credential{UID: s.userUID, GID: s.userGID, Groups: s.userGroups}
}

func (s *settings) level() slog.Level {
	if s.logLevel != nil {
		return *s.logLevel
	}
	switch {
	case s.verbosity >= 2:
		return slog.LevelDebug
	case s.verbosity == 1:
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// option is one entry of a getopt-style table. An option with a value name
// takes an argument (-e 143, -e143, --remap-exit 143, --remap-exit=143);
// a value name "[=NAME]" makes the argument optional, given
// only with "=" (--fail-on-leftovers, --fail-on-leftovers=3), as getopt_long
// reads an optional_argument.
type option struct {
	short byte
	long  string
	value string
	help  string
	set   func(s *settings, v string) error
}

var pidoneOptions = []option{
	{'c', "single-child", "", "forward signals to the child only, not its process group", func(s *settings, _ string) error { s.singleChild = true; return nil }},
	{'e', "remap-exit", "CODE", "report child exit CODE as 0 (repeatable)", func(s *settings, v string) error {
		code, err := strconv.Atoi(v)
		if err != nil || code < 0 || code > 255 {
			return fmt.Errorf("exit code %s is not a number from 0 to 255", clip.Quote(v))
		}
		s.remapExit = append(s.remapExit, code)
		return nil
	}},
	{'w', "warn-on-reap", "", "log every reaped orphan", func(s *settings, _ string) error { s.warnOnReap = true; return nil }},
	{'s', "subreaper", "", "accepted for tini users: pidone is always a subreaper when not PID 1", func(*settings, string) error { return nil }},
	{'p', "pdeathsig", "SIG", "signal pidone receives (and forwards) when its parent dies", func(s *settings, v string) error {
		sig, err := forward.Parse(v)
		if err == nil && !forward.Catchable(sig) {
			err = fmt.Errorf("%s cannot be caught by pidone", forward.Name(sig))
		}
		s.pdeathsig = sig
		return err
	}},
	{'r', "rewrite", "FROM:TO", "forward signal FROM as TO; TO 0 or none drops it (repeatable: TERM:QUIT, 15:3, USR1:none)", func(s *settings, v string) error {
		from, to, err := forward.ParseRewrite(v)
		if err == nil {
			if s.rewrites == nil {
				s.rewrites = forward.Rewrites{}
			}
			s.rewrites[from] = to
		}
		return err
	}},
	{0, "delay", "SIG:DURATION", "hold signal SIG for DURATION before acting on it (repeatable: TERM:5s)", func(s *settings, v string) error {
		sig, d, err := forward.ParseDelay(v)
		if err == nil {
			if s.delays == nil {
				s.delays = forward.Delays{}
			}
			s.delays[sig] = d
		}
		return err
	}},
	{0, "grace", "DURATION", "time between the stop signal and SIGKILL when stopping (default 5s; 0 kills at once)", func(s *settings, v string) error {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			return fmt.Errorf("%s is not a duration such as 500ms, 5s or 1m", clip.Quote(v))
		case d < 0:
			return fmt.Errorf("%s is negative", clip.Quote(v))
		}
		s.grace, s.graceSet = d, true
		return nil
	}},
	{0, "wait-all", "", "when the main child exits, wait for every other process to exit on its own", func(s *settings, _ string) error { s.waitAll = true; return nil }},
	{0, "termination-log", "PATH", "write why the main child ended to PATH (Kubernetes' terminationMessagePath)", func(s *settings, v string) (err error) {
		s.termLog, err = parsePath(v)
		return err
	}},
	{0, "exit-report", "PATH", "when pidone exits, write a JSON report to PATH: the main child, the exit code and why, the processes left behind (docs/exit-report.md)", func(s *settings, v string) error {
		if err := exitreport.CheckPath(v); err != nil {
			return err
		}
		s.exitReport = v
		return nil
	}},
	{0, "control-socket", "PATH", "answer `pidone ctl status` on a unix socket at PATH (mode 0600) while pidone runs (docs/exit-report.md, Live status)", func(s *settings, v string) error {
		if err := control.CheckPath(v); err != nil {
			return err
		}
		s.controlSocket = v
		return nil
	}},
	{0, "fail-on-leftovers", "[=CODE]", "exit CODE (default 122) instead of the child's status if processes were still alive below pidone when the main child ended (workers mode: when the workers stopped)", func(s *settings, v string) error {
		s.failOnLeftovers = true
		if v == "" {
			return nil
		}
		code, err := strconv.Atoi(v)
		if err != nil || code < 0 || code > 255 {
			return fmt.Errorf("exit code %s is not a number from 0 to 255", clip.Quote(v))
		}
		s.leftoversCode = &code
		return nil
	}},
	{0, "user", "USER[:GROUP]", "run the command as USER (a name in the image's /etc/passwd, or a number) and GROUP; pidone keeps its own identity", func(s *settings, v string) error {
		c, err := user.Resolve(v, userRoot)
		if err != nil {
			return err
		}
		s.userUID, s.userGID, s.userGroups, s.userSet = c.UID, c.GID, c.Groups, true
		return nil
	}},
	{0, "no-new-privs", "", "start the command with no_new_privs: setuid binaries and file capabilities give it nothing", func(s *settings, _ string) error { s.noNewPrivs = true; return nil }},
	{0, "pause", "", "run no command: reap what is re-parented to pidone, exit 0 on TERM or INT (a pod's pause process)", func(s *settings, _ string) error { s.pause = true; return nil }},
	{'v', "", "", "more log output (repeatable: -v info, -vv debug)", func(s *settings, _ string) error { s.verbosity++; return nil }},
	{0, "log-level", "LEVEL", "debug, info, warn (default) or error; overrides -v", func(s *settings, v string) error {
		l, err := logging.ParseLevel(v)
		s.logLevel = &l
		return err
	}},
	{0, "log-format", "FORMAT", "text (default) or json", func(s *settings, v string) (err error) {
		s.logFormat, err = logging.ParseFormat(v)
		return err
	}},
	{0, "version", "", "print the version and exit", func(s *settings, _ string) error { s.showVersion = true; return nil }},
	{'h', "help", "", "print this help and exit", func(s *settings, _ string) error { s.showHelp = true; return nil }},
}

// userRoot is where --user finds etc/passwd and etc/group: the container's
// root, or a fake one in the tests.
var userRoot = "/"

// usageError is a command-line mistake; Parse answers it with the usage
// line and ExitUsage (cli.go).
type usageError struct {
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// parseArgs reads pidone's own command line: options up to "--" or the
// first word that is not an option (so `pidone sh -c x` passes -c to sh),
// getopt "+" style, then the command.
func parseArgs(args []string, table []option) (*settings, error) {
	return parseOver(defaultSettings(), args, table)
}

// parseOver is parseArgs over s, the settings the environment gave. On a
// mistake it returns s as far as it was read too: an --exit-report before
// the mistake still gets its report (parsePidone).
func parseOver(s *settings, args []string, table []option) (*settings, error) {
	if oe := parseInto(s, args, table, pidoneSyntax); oe != nil {
		msg := oe.Error()
		// Only here, in pidone's own mode: under a peer's name the
		// messages are getopt's (personality.go).
		if oe.mistake == unknownLong {
			if near := closestOption(oe.longName(), table); near != "" {
				msg += "\ndid you mean --" + near + "?"
			}
		}
		return s, &usageError{msg: msg}
	}
	switch {
	case s.showHelp || s.showVersion:
	case s.pause && len(s.command) > 0:
		return s, usagef("--pause%s runs no command, but %s was given", s.fromEnvironment(is("pause")), clip.Quote(s.command[0]))
	case s.pause && s.waitAll:
		return s, usagef("--wait-all has no meaning with --pause")
	case s.pause && s.workers != nil:
		return s, usagef("--pause cannot be combined with workers mode")
	case (s.userSet || s.noNewPrivs) && (s.pause || s.workers != nil):
		return s, usagef("--user and --no-new-privs apply to the main command; workers take the user and noNewPrivileges of their OCI process (docs/workers.md)")
	case s.controlSocket != "" && s.workers != nil:
		return s, usagef("--control-socket%s is for single mode; workers mode answers pidone ctl through its --pidfile", s.fromEnvironment(is("control-socket")))
	case len(s.command) == 0 && !s.pause && !s.workersNeedNoCommand():
		return s, usagef("no command given")
	}
	return s, nil
}

// syntax is the flavour of getopt a table is read with.
type syntax int

const (
	// pidoneSyntax is pidone's own: long options by their full name only,
	// so that a new option can never change what an abbreviation meant.
	pidoneSyntax syntax = iota
	// getoptSyntax is getopt(3), which tini uses: short options only, so
	// "--yolo" is a cluster of short options, the first of them '-'.
	getoptSyntax
	// getoptLongSyntax is getopt_long(3), which dumb-init and catatonit
	// use: a long option may be shortened to any prefix that names only
	// one option ("--sing" is --single-child; "--ver" is ambiguous).
	getoptLongSyntax
)

// mistake is the kind of an optionError.
type mistake int

const (
	unknownShort    mistake = iota + 1 // -z
	unknownLong                        // --yolo
	ambiguousLong                      // --ver: a prefix of several (getoptLongSyntax)
	missingValue                       // -e, --rewrite as the last word
	unexpectedValue                    // --single-child=1
	badValue                           // a value the option's set refused
)

// optionError is a mistake on the command line, typed so that each
// personality can say it in its peer's words (getoptMessage) and pidone's
// own mode in its own (Error).
type optionError struct {
	mistake mistake
	// option is the option as the message names it: "-z", or a long
	// option's full name ("--rewrite") once it is known; for unknownLong
	// and ambiguousLong the word as written, value included ("--yolo=3"),
	// as getopt_long echoes it.
	option     string
	valueName  string   // missingValue: what the option takes ("CODE")
	value      string   // badValue: the value refused
	err        error    // badValue: why
	candidates []string // ambiguousLong: the long names it abbreviates, in table order
}

// Error says the mistake in pidone's own words.
func (e *optionError) Error() string {
	switch e.mistake {
	case unknownShort:
		return "unknown option " + e.option
	case unknownLong:
		return "unknown option --" + e.longName()
	case ambiguousLong:
		return fmt.Sprintf("option --%s is ambiguous: --%s", e.longName(), strings.Join(e.candidates, ", --"))
	case missingValue:
		return fmt.Sprintf("option %s needs a %s", e.option, e.valueName)
	case unexpectedValue:
		return fmt.Sprintf("option %s takes no value", e.option)
	}
	return fmt.Sprintf("%s: %v", e.option, e.err)
}

// longName is the name of an unknown or ambiguous long option, without
// "--" and without the value.
func (e *optionError) longName() string {
	name, _, _ := strings.Cut(strings.TrimPrefix(e.option, "--"), "=")
	return name
}

// getoptMessage is the line glibc's getopt or getopt_long prints for the
// mistake, naming the program by argv0 exactly as it was invoked; "" for a
// bad value, which getopt leaves to the program.
func (e *optionError) getoptMessage(argv0 string) string {
	short := len(e.option) == 2
	switch {
	case e.mistake == unknownShort:
		return fmt.Sprintf("%s: invalid option -- '%c'\n", argv0, e.option[1])
	case e.mistake == missingValue && short:
		return fmt.Sprintf("%s: option requires an argument -- '%c'\n", argv0, e.option[1])
	case e.mistake == missingValue:
		return fmt.Sprintf("%s: option '%s' requires an argument\n", argv0, e.option)
	case e.mistake == unknownLong:
		return fmt.Sprintf("%s: unrecognized option '%s'\n", argv0, e.option)
	case e.mistake == unexpectedValue:
		return fmt.Sprintf("%s: option '%s' doesn't allow an argument\n", argv0, e.option)
	case e.mistake == ambiguousLong:
		var b strings.Builder
		fmt.Fprintf(&b, "%s: option '%s' is ambiguous; possibilities:", argv0, e.option)
		for _, c := range e.candidates {
			fmt.Fprintf(&b, " '--%s'", c)
		}
		b.WriteString("\n")
		return b.String()
	}
	return ""
}

// parseInto reads options from args into s, then the command; the
// personalities share it with their own tables and their peer's syntax.
// It stops at the first mistake, as the peers do.
func parseInto(s *settings, args []string, table []option, syn syntax) *optionError {
	i := 0
	for ; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			i++
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			break
		}
		var err *optionError
		if strings.HasPrefix(arg, "--") && syn != getoptSyntax {
			i, err = parseLong(s, table, args, i, syn)
		} else {
			i, err = parseShorts(s, table, args, i)
		}
		if err != nil {
			return err
		}
	}
	s.command = args[i:]
	return nil
}

func parseLong(s *settings, table []option, args []string, i int, syn syntax) (int, *optionError) {
	word := args[i]
	name, value, hasValue := strings.Cut(word[2:], "=")
	o, err := findLong(table, word, name, syn)
	if err != nil {
		return i, err
	}
	option := "--" + o.long
	switch {
	case o.value == "" && hasValue:
		return i, &optionError{mistake: unexpectedValue, option: option}
	case o.value != "" && !hasValue && optionalValue(o):
	case o.value != "" && !hasValue:
		if i+1 >= len(args) {
			return i, &optionError{mistake: missingValue, option: option, valueName: o.value}
		}
		i++
		value = args[i]
	}
	if err := o.set(s, value); err != nil {
		return i, &optionError{mistake: badValue, option: option, value: value, err: err}
	}
	return i, nil
}

// findLong finds the long option word names: by its full name, or in
// getoptLongSyntax by a prefix of one name only (an exact name wins over
// the names it is a prefix of, as in getopt_long).
func findLong(table []option, word, name string, syn syntax) (option, *optionError) {
	var prefixOf []option
	for _, o := range table {
		switch {
		case o.long == "":
		case o.long == name:
			return o, nil
		case syn == getoptLongSyntax && strings.HasPrefix(o.long, name):
			prefixOf = append(prefixOf, o)
		}
	}
	switch len(prefixOf) {
	case 0:
		return option{}, &optionError{mistake: unknownLong, option: word}
	case 1:
		return prefixOf[0], nil
	}
	e := &optionError{mistake: ambiguousLong, option: word}
	for _, o := range prefixOf {
		e.candidates = append(e.candidates, o.long)
	}
	return option{}, e
}

func parseShorts(s *settings, table []option, args []string, i int) (int, *optionError) {
	arg := args[i]
	for j := 1; j < len(arg); j++ {
		option := "-" + string(arg[j])
		o, ok := findShort(table, arg[j])
		if !ok {
			return i, &optionError{mistake: unknownShort, option: option}
		}
		value := ""
		if o.value != "" {
			switch {
			case j+1 < len(arg):
				value = arg[j+1:]
			case i+1 < len(args):
				i++
				value = args[i]
			default:
				return i, &optionError{mistake: missingValue, option: option, valueName: o.value}
			}
			j = len(arg)
		}
		if err := o.set(s, value); err != nil {
			return i, &optionError{mistake: badValue, option: option, value: value, err: err}
		}
	}
	return i, nil
}

// optionalValue says whether o's argument may be left out.
func optionalValue(o option) bool { return strings.HasPrefix(o.value, "[=") }

func findShort(table []option, c byte) (option, bool) {
	for _, o := range table {
		if o.short == c {
			return o, true
		}
	}
	return option{}, false
}

// envHelp is --help's one line on the variables (environment.go); the man
// page lists them.
const envHelp = "every long option --NAME is also PIDONE_NAME (PIDONE_GRACE=10s)."

const usageLine = "usage: pidone [options] [--] command [args...]\n       pidone --pause [options]"

// helpSummary is what pidone does, for --help and the man page
// (manpage_test.go).
const helpSummary = "Runs command as the main child, reaps every orphan, forwards signals to the\n" +
	"child's process group and exits with the child's status (signal S: 128+S).\n" +
	"SIGTERM or SIGINT (or what -r turns into one) stops every process below\n" +
	"pidone: the signal, --grace, then SIGKILL; pidone exits once none is left.\n" +
	"The same happens to what is left when the main child exits."

func printHelp(w io.Writer, table []option) {
	fmt.Fprintln(w, usageLine)
	fmt.Fprintf(w, "\n%s\n\nOptions:\n", helpSummary)
	for _, o := range table {
		names := ""
		if o.short != 0 {
			names = "-" + string(o.short)
		}
		if o.long != "" {
			if names != "" {
				names += ", "
			}
			names += "--" + o.long
		}
		if o.value != "" && !optionalValue(o) {
			names += " "
		}
		names += o.value
		fmt.Fprintf(w, "  %-26s %s\n", names, o.help)
	}
	fmt.Fprintf(w, "\nControl verbs (workers mode, through --pidfile):\n  pidone ctl %s [--pidfile PATH]   (pidone ctl --help)\n", ctlVerbList())
	fmt.Fprintf(w, "\nEnvironment: %s\n", envHelp)
	fmt.Fprintln(w, "\nExit codes: the child's; 127 command not found; 126 not executable;\n2 usage error; 125 pidone itself failed.\nMore: the pidone(1) man page, README.md and docs/ (docs/faq.md: common questions).")
}
