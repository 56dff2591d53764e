package workers

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/internal/safefile"
	"golang.org/x/sys/unix"
)

// ReloadMode is what a reload does to running workers (--reload).
type ReloadMode int

// The reload modes.
const (
	// ReloadSignal forwards the reload signal to every live worker.
	ReloadSignal ReloadMode = iota
	// ReloadReplace starts a new generation and, once it is ready, stops
	// the old one (nginx style).
	ReloadReplace
)

func (m ReloadMode) String() string { return [...]string{"signal", "replace"}[m] }

// Options is what the command line says about workers mode. main fills it
// through the Parse functions below; Load turns it into worker groups.
type Options struct {
	Count      Count    // --workers; zero when not given
	ConfigPath string   // --config FILE
	SpecPath   string   // --spec FILE|BUNDLE
	Command    []string // the command after the options
	Pidfile    string   // --pidfile PATH; empty for none

	Policy     Policy        // --restart, --throttle, --backoff-*, --give-up, --fatal-exit
	StopSignal unix.Signal   // --stop-signal
	Grace      time.Duration // --grace

	Reload        ReloadMode    // --reload
	ReloadSignal  unix.Signal   // --reload-signal
	RestartSignal unix.Signal   // --restart-signal (pidone ctl restart)
	ReadyAfter    time.Duration // --ready-after
	ReadyNotify   bool          // --ready notify
	ReadyTimeout  time.Duration // --ready-timeout

	Listen []ListenSpec // --listen, repeatable
}

// DefaultOptions returns the defaults of every workers option.
func DefaultOptions() Options {
	return Options{
		Policy:        DefaultPolicy(),
		StopSignal:    unix.SIGTERM,
		Grace:         5 * time.Second,
		Reload:        ReloadSignal,
		ReloadSignal:  unix.SIGHUP,
		RestartSignal: unix.SIGUSR2,
		ReadyAfter:    time.Second,
		ReadyTimeout:  defaultReadyTimeout,
	}
}

// Enabled reports whether the options ask for workers mode.
func (o *Options) Enabled() bool {
	return o.Count != (Count{}) || o.ConfigPath != "" || o.SpecPath != ""
}

// Validate checks what does not depend on files: one source of workers, a
// sound policy, distinct master signals.
func (o *Options) Validate() error {
	sources := 0
	for _, set := range []bool{len(o.Command) > 0, o.ConfigPath != "", o.SpecPath != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		return errors.New("workers mode needs a command, --config FILE or --spec FILE")
	case sources > 1:
		return errors.New("give only one of a command, --config and --spec")
	}
	if err := o.Policy.Validate(); err != nil {
		return err
	}
	if o.Grace < 0 || o.ReadyAfter < 0 || o.ReadyTimeout < 0 {
		return errors.New("--grace, --ready-after and --ready-timeout cannot be negative")
	}
	if err := checkListen(o.Listen); err != nil {
		return err
	}
	own := map[unix.Signal]string{unix.SIGTERM: "stop", unix.SIGINT: "stop"}
	for _, s := range []struct {
		sig  unix.Signal
		role string
	}{{o.ReloadSignal, "--reload-signal"}, {o.RestartSignal, "--restart-signal"}} {
		if !forward.Forwardable(s.sig) {
			return fmt.Errorf("%s %s cannot be caught by pidone", s.role, forward.Name(s.sig))
		}
		if other, taken := own[s.sig]; taken {
			return fmt.Errorf("%s %s is already the %s signal", s.role, forward.Name(s.sig), other)
		}
		own[s.sig] = s.role
	}
	return nil
}

// GroupSpec is one named group of identical workers.
type GroupSpec struct {
	Name       string
	Count      int
	Policy     Policy
	StopSignal unix.Signal
	Grace      time.Duration
	Process    Process
	// Listen is the sockets every worker of the group gets (listen.go).
	Listen []ListenSpec
	Ready  Readiness

	// Filled in by the master before any worker of the group starts:
	// the bound sockets of Listen, in order, and the NOTIFY_SOCKET
	// address when Ready.Notify.
	sockets      []*socket
	notifySocket string
}

// Process is what a worker runs: the command line's command, or an OCI
// runtime-spec process object.
type Process struct {
	Args []string
	// Env is the complete environment (OCI semantics); nil means pidone's
	// own. PIDONE_WORKER_* are added either way.
	Env []string
	// Cwd is absolute; empty means pidone's working directory.
	Cwd string
	// User, when not nil, sets the worker's uid, gid, supplementary groups
	// and umask; nil keeps pidone's.
	User            *User
	Rlimits         []Rlimit
	NoNewPrivileges bool
}

// User is the identity a worker runs as.
type User struct {
	UID, GID       uint32
	AdditionalGids []uint32
	Umask          *uint32
}

// Rlimit is one resource limit (setrlimit(2)).
type Rlimit struct {
	Name       string // RLIMIT_NOFILE
	Resource   int
	Soft, Hard uint64
}

// Limits on what the command line and a configuration may ask for
// (docs/workers.md, "Limits"). A configuration is read again on every
// reload by a master that is serving, so no input may cost it more than a
// small, fixed amount of memory and time.
const (
	// MaxConfigSize is the largest --config file or bundle config.json
	// pidone reads: 1 MiB. Real ones are a few KB (an OCI config.json
	// written by runc spec is about 3 KB).
	MaxConfigSize = 1 << 20
	// MaxConfigDepth is the deepest nesting of arrays and objects in a
	// configuration. pidone's own schema needs 5 levels
	// (groups.web.process.rlimits[0]) and an OCI spec about 7
	// (linux.seccomp.syscalls[0].args[0]).
	MaxConfigDepth = 64
	// MaxWorkers bounds --workers and the workers of all groups together.
	// The master holds a pidfd per worker, two per slot while --reload
	// replace overlaps the generations, beside pidone's own few; and each
	// worker is a process in the container's pids limit (often 1024 to
	// 4096 in Kubernetes). 1024 workers of one command is far beyond what
	// any machine runs usefully; a larger number is a typo.
	MaxWorkers = 1024
)

// Load returns the worker groups the options describe, reading the
// configuration file or bundle if there is one. A reload calls it again; an
// error leaves the running workers alone.
func (o *Options) Load() ([]*GroupSpec, error) {
	switch {
	case o.ConfigPath != "":
		data, _, err := readConfigFile(o.ConfigPath, "--config", false)
		if err != nil {
			return nil, err
		}
		groups, err := o.parseConfig(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.ConfigPath, err)
		}
		return groups, nil
	case o.SpecPath != "":
		proc, err := loadBundleProcess(o.SpecPath)
		if err != nil {
			return nil, err
		}
		return o.single(proc)
	}
	return o.single(Process{Args: o.Command})
}

// readConfigFile reads the file a configuration option names (--config;
// --spec with bundle: a file, or a bundle directory's config.json) and
// returns its contents and the name of the file read.
//
// Only a regular file is read (internal/safefile): the open cannot block,
// what it opened is checked before a byte is read, and at most
// MaxConfigSize+1 bytes are read, so a FIFO, /dev/zero or a file that grows
// while it is read cost nothing.
func readConfigFile(path, option string, bundle bool) ([]byte, string, error) {
	want := "a regular file"
	if bundle {
		want = "a regular file or a bundle directory"
	}
	fd, st, err := safefile.Open(unix.AT_FDCWD, path, 0)
	if err != nil {
		return nil, path, optionError(option, err)
	}
	defer func() { unix.Close(fd) }()
	name := path
	if bundle && safefile.IsDir(st.Mode) {
		name = filepath.Join(path, "config.json")
		cfd, cst, err := safefile.Open(fd, "config.json", 0)
		if err != nil {
			return nil, name, optionError(option+" "+path+":", &os.PathError{Op: "open", Path: name, Err: errors.Unwrap(err)})
		}
		unix.Close(fd)
		fd, st, want = cfd, cst, "a regular file"
	}
	data, err := safefile.ReadOpened(fd, st, name, MaxConfigSize)
	var notRegular *safefile.NotRegularError
	var tooLarge *safefile.TooLargeError
	switch {
	case errors.As(err, &notRegular):
		return nil, name, fmt.Errorf("refusing %s %s: %s is %s, not %s", option, path, name, safefile.Kind(st.Mode), want)
	case errors.As(err, &tooLarge):
		return nil, name, fmt.Errorf("refusing %s %s: larger than %d bytes (1 MiB), the limit for a configuration", option, name, MaxConfigSize)
	case err != nil:
		return nil, name, optionError(option, err)
	}
	return data, name, nil
}

// optionError puts what in front of the error an *os.PathError holds
// ("--config /x: no such file or directory"), without the operation.
func optionError(what string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", what, pe.Path, pe.Err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// single is the one group "main" of the command line or an OCI bundle.
func (o *Options) single(p Process) ([]*GroupSpec, error) {
	count, err := o.Count.resolve(1)
	if err != nil {
		return nil, err
	}
	return []*GroupSpec{{
		Name: "main", Count: count, Policy: o.Policy,
		StopSignal: o.StopSignal, Grace: o.Grace, Process: p,
		Listen: o.Listen, Ready: o.readiness(),
	}}, nil
}

// The configuration file (--config), with every field but process optional:
//
//	{"groups": {"web": {"count": 4, "restart": "always", "throttle": "backoff",
//	  "backoffMin": "100ms", "backoffMax": "30s", "backoffReset": "60s",
//	  "giveUp": "5/60s", "fatalExit": [78], "stopSignal": "TERM", "grace": "5s",
//	  "listen": ["web=tcp::8080"], "ready": "notify", "readyAfter": "1s", "readyTimeout": "60s",
//	  "process": {OCI runtime-spec process}}}}
type fileConfig struct {
	Groups groupList `json:"groups"`
}

type fileGroup struct {
	Count        *Count       `json:"count"`
	Restart      *Restart     `json:"restart"`
	Throttle     *Throttle    `json:"throttle"`
	BackoffMin   *duration    `json:"backoffMin"`
	BackoffMax   *duration    `json:"backoffMax"`
	BackoffReset *duration    `json:"backoffReset"`
	GiveUp       *GiveUp      `json:"giveUp"`
	FatalExit    []int        `json:"fatalExit"`
	StopSignal   *signal      `json:"stopSignal"`
	Grace        *duration    `json:"grace"`
	Listen       []ListenSpec `json:"listen"`
	Ready        *readyMode   `json:"ready"`
	ReadyAfter   *duration    `json:"readyAfter"`
	ReadyTimeout *duration    `json:"readyTimeout"`
	Process      *ociProcess  `json:"process"`
}

type namedGroup struct {
	name string
	fileGroup
}

// groupList keeps the groups in the order the file lists them: they start
// in that order.
type groupList []namedGroup

// maxGroupName is the longest group name.
const maxGroupName = 64

// groupName reports whether name follows the rule that decodeJSON's error
// states: ASCII letters, digits, '_', '.' and '-', starting with a letter or
// digit, at most maxGroupName bytes (it is in every log line and worker
// environment). Written out by hand so that the binary does not link regexp.
func groupName(name string) bool {
	if name == "" || len(name) > maxGroupName || !isLetter(name[0]) && !isDigit(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLetter(c) && !isDigit(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func (l *groupList) decodeJSON(node any) error {
	obj, ok := node.(*object)
	if !ok {
		return fmt.Errorf("want an object of named groups, not %s", describeNode(node))
	}
	for _, name := range obj.keys {
		if !groupName(name) {
			return pathErrorf(keyStep(name), "group names are letters, digits, '_', '.' and '-', starting with a letter or digit, at most %d bytes", maxGroupName)
		}
		g := namedGroup{name: name}
		if err := assign(obj.vals[name], reflect.ValueOf(&g.fileGroup).Elem()); err != nil {
			return within(keyStep(name), err)
		}
		*l = append(*l, g)
	}
	return nil
}

// parseConfig decodes and validates a configuration file; the command-line
// options are the defaults of every group.
func (o *Options) parseConfig(data []byte) ([]*GroupSpec, error) {
	var fc fileConfig
	if err := decodeStrict(data, &fc); err != nil {
		return nil, err
	}
	if len(fc.Groups) == 0 {
		return nil, pathErrorf("groups", "at least one group is needed")
	}
	var groups []*GroupSpec
	total := 0
	for _, g := range fc.Groups {
		path := join("groups", g.name)
		spec, err := o.group(path, g)
		if err != nil {
			return nil, err
		}
		if total += spec.Count; total > MaxWorkers {
			return nil, pathErrorf(path, "the groups up to this one have %d workers in all, above the limit of %d", total, MaxWorkers)
		}
		groups = append(groups, spec)
	}
	return groups, nil
}

func (o *Options) group(path string, g namedGroup) (*GroupSpec, error) {
	spec := &GroupSpec{Name: g.name, Policy: o.Policy, StopSignal: o.StopSignal, Grace: o.Grace,
		Listen: o.Listen, Ready: o.readiness()}
	count := o.Count
	if g.Count != nil {
		count = *g.Count
	}
	var err error
	if spec.Count, err = count.resolve(1); err != nil {
		return nil, pathErrorf(join(path, "count"), "%v", err)
	}
	p := &spec.Policy
	setIf(&p.Restart, g.Restart)
	setIf(&p.Throttle, g.Throttle)
	setIf((*duration)(&p.BackoffMin), g.BackoffMin)
	setIf((*duration)(&p.BackoffMax), g.BackoffMax)
	setIf((*duration)(&p.BackoffReset), g.BackoffReset)
	setIf(&p.GiveUp, g.GiveUp)
	setIf((*duration)(&spec.Grace), g.Grace)
	setIf((*signal)(&spec.StopSignal), g.StopSignal)
	if g.FatalExit != nil {
		p.FatalExit = g.FatalExit
	}
	setIf((*bool)(&spec.Ready.Notify), (*bool)(g.Ready))
	setIf((*duration)(&spec.Ready.After), g.ReadyAfter)
	setIf((*duration)(&spec.Ready.Timeout), g.ReadyTimeout)
	if g.Listen != nil {
		spec.Listen = g.Listen
		if err := checkListen(spec.Listen); err != nil {
			return nil, pathErrorf(join(path, "listen"), "%v", err)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, &PathError{Path: path, Err: err}
	}
	if g.Process == nil {
		return nil, pathErrorf(join(path, "process"), "missing: every group needs a process with args")
	}
	if spec.Process, err = g.Process.worker(join(path, "process")); err != nil {
		return nil, err
	}
	return spec, nil
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// ociProcess is an OCI runtime-spec process object, and whether it had a
// user (absent: the worker keeps pidone's identity; present: exactly that
// uid, gid and supplementary groups).
type ociProcess struct {
	specs.Process
	hasUser bool
}

func (p *ociProcess) decodeJSON(node any) error {
	if obj, ok := node.(*object); ok {
		_, p.hasUser = obj.vals["user"]
	}
	return assign(node, reflect.ValueOf(&p.Process).Elem())
}

// worker checks an OCI process and turns it into a Process. Fields pidone
// does not apply are refused rather than ignored: a worker silently running
// with capabilities or a profile its spec meant to drop would be worse than
// an error.
func (p *ociProcess) worker(path string) (Process, error) {
	unsupported := []struct {
		field string
		set   bool
	}{
		{"terminal", p.Terminal},
		{"consoleSize", p.ConsoleSize != nil},
		{"commandLine", p.CommandLine != ""},
		{"capabilities", p.Capabilities != nil},
		{"apparmorProfile", p.ApparmorProfile != ""},
		{"oomScoreAdj", p.OOMScoreAdj != nil},
		{"scheduler", p.Scheduler != nil},
		{"selinuxLabel", p.SelinuxLabel != ""},
		{"ioPriority", p.IOPriority != nil},
		{"execCPUAffinity", p.ExecCPUAffinity != nil},
		{"user.username", p.User.Username != ""},
	}
	for _, u := range unsupported {
		if u.set {
			return Process{}, pathErrorf(joinPath(path, u.field), "not supported by pidone workers (supported: args, env, cwd, user, rlimits, noNewPrivileges)")
		}
	}
	w := Process{Args: p.Args, Env: p.Env, Cwd: p.Cwd, NoNewPrivileges: p.NoNewPrivileges}
	if len(w.Args) == 0 || w.Args[0] == "" {
		return Process{}, pathErrorf(join(path, "args"), "missing: the command to run")
	}
	for i, kv := range w.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return Process{}, pathErrorf(fmt.Sprintf("%s.env[%d]", path, i), "want NAME=VALUE, not %s", clip.Quote(kv))
		}
	}
	if w.Cwd != "" && !filepath.IsAbs(w.Cwd) {
		return Process{}, pathErrorf(join(path, "cwd"), "must be an absolute path, not %s", clip.Quote(w.Cwd))
	}
	if p.hasUser {
		w.User = &User{UID: p.User.UID, GID: p.User.GID, AdditionalGids: p.User.AdditionalGids, Umask: p.User.Umask}
		if u := p.User.Umask; u != nil && *u > 0o777 {
			return Process{}, pathErrorf(join(path, "user")+".umask", "%#o is not a umask (0 to 0777)", *u)
		}
	}
	seen := map[string]bool{}
	for i, rl := range p.Rlimits {
		at := fmt.Sprintf("%s.rlimits[%d]", path, i)
		res, ok := rlimitResources[rl.Type]
		switch {
		case !ok:
			return Process{}, pathErrorf(at+".type", "unknown rlimit %s", clip.Quote(rl.Type))
		case seen[rl.Type]:
			return Process{}, pathErrorf(at+".type", "%s given twice", rl.Type)
		case rl.Soft > rl.Hard:
			return Process{}, pathErrorf(at, "soft limit %d is above the hard limit %d", rl.Soft, rl.Hard)
		}
		seen[rl.Type] = true
		w.Rlimits = append(w.Rlimits, Rlimit{Name: rl.Type, Resource: res, Soft: rl.Soft, Hard: rl.Hard})
	}
	return w, nil
}

// rlimitResources maps the OCI rlimit names to setrlimit(2) resources.
var rlimitResources = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// loadBundleProcess reads the process of an OCI bundle's config.json (path
// is the file or the bundle directory). The other sections (root, mounts,
// linux, hooks, ...) are the container runtime's business and were applied
// to the container pidone runs in; their names are checked, their contents
// are not.
func loadBundleProcess(bundle string) (Process, error) {
	data, path, err := readConfigFile(bundle, "--spec", true)
	if err != nil {
		return Process{}, err
	}
	return parseBundleProcess(path, data)
}

// parseBundleProcess is loadBundleProcess once the file is read; path names
// it in errors.
func parseBundleProcess(path string, data []byte) (Process, error) {
	node, err := parseTree(data)
	if err != nil {
		return Process{}, fmt.Errorf("%s: %w", path, err)
	}
	obj, ok := node.(*object)
	if !ok {
		return Process{}, fmt.Errorf("%s: want an OCI runtime-spec config object, not %s", path, describeNode(node))
	}
	names, index := jsonFields(reflect.TypeFor[specs.Spec]())
	for _, k := range obj.keys {
		if _, known := index[k]; !known {
			return Process{}, fmt.Errorf("%s: %w", path, pathErrorf(join("", k), "unknown field (known: %s)", strings.Join(names, ", ")))
		}
	}
	var p ociProcess
	if obj.vals["process"] == nil {
		return Process{}, fmt.Errorf("%s: %w", path, pathErrorf("process", "missing"))
	}
	if err := assign(obj.vals["process"], reflect.ValueOf(&p).Elem()); err != nil {
		return Process{}, fmt.Errorf("%s: %w", path, within("process", err))
	}
	w, err := p.worker("process")
	if err != nil {
		return Process{}, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// Count is a number of workers, or "auto": the CPUs this container may use.
type Count struct {
	N    int
	Auto bool
}

// ParseCount reads --workers: a number from 1 to MaxWorkers, or "auto".
func ParseCount(s string) (Count, error) {
	if s == "auto" {
		return Count{Auto: true}, nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange), err == nil && n > MaxWorkers:
		return Count{}, fmt.Errorf("worker count %s is above the limit of %d workers", clip.String(s), MaxWorkers)
	case err != nil || n < 1:
		return Count{}, fmt.Errorf("worker count %s is not a positive number or auto", clip.Quote(s))
	}
	return Count{N: n}, nil
}

func (c *Count) decodeJSON(node any) error {
	var err error
	switch n := node.(type) {
	case string:
		if n != "auto" {
			return fmt.Errorf("want a number from 1 to %d or \"auto\", not %s", MaxWorkers, clip.Quote(n))
		}
		*c = Count{Auto: true}
	case json.Number:
		*c, err = ParseCount(string(n))
	default:
		err = fmt.Errorf("want a number from 1 to %d or \"auto\", not %s", MaxWorkers, describeNode(node))
	}
	return err
}

// resolve returns the number of workers; def when none was given. auto is
// the CPUs this container may use, at most MaxWorkers.
func (c Count) resolve(def int) (int, error) {
	switch {
	case c.Auto:
		n, _, err := CPUs()
		return min(n, MaxWorkers), err
	case c.N > 0:
		return c.N, nil
	}
	return def, nil
}

// ParseRestart reads --restart.
func ParseRestart(s string) (Restart, error) {
	i := slices.Index([]string{"always", "on-failure", "never"}, s)
	if i < 0 {
		return 0, fmt.Errorf("unknown restart policy %s (want always, on-failure or never)", clip.Quote(s))
	}
	return Restart(i), nil
}

func (r *Restart) decodeJSON(node any) (err error) {
	s, err := stringNode(node)
	if err == nil {
		*r, err = ParseRestart(s)
	}
	return err
}

// ParseThrottle reads --throttle.
func ParseThrottle(s string) (Throttle, error) {
	i := slices.Index([]string{"backoff", "hmain"}, s)
	if i < 0 {
		return 0, fmt.Errorf("unknown throttle %s (want backoff or hmain)", clip.Quote(s))
	}
	return Throttle(i), nil
}

func (t *Throttle) decodeJSON(node any) (err error) {
	s, err := stringNode(node)
	if err == nil {
		*t, err = ParseThrottle(s)
	}
	return err
}

// ParseReload reads --reload.
func ParseReload(s string) (ReloadMode, error) {
	i := slices.Index([]string{"signal", "replace"}, s)
	if i < 0 {
		return 0, fmt.Errorf("unknown reload mode %s (want signal or replace)", clip.Quote(s))
	}
	return ReloadMode(i), nil
}

// ParseGiveUp reads --give-up COUNT/WINDOW (5/60s), or "off".
func ParseGiveUp(s string) (GiveUp, error) {
	if s == "off" {
		return GiveUp{}, nil
	}
	cs, ws, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(cs)
	if !ok || err != nil || n < 1 {
		return GiveUp{}, fmt.Errorf("give-up %s is not COUNT/WINDOW (like 5/60s) or off", clip.Quote(s))
	}
	w, err := ParseDuration(ws)
	if err != nil || w <= 0 {
		return GiveUp{}, fmt.Errorf("give-up %s: the window must be a positive duration (like 60s)", clip.Quote(s))
	}
	return GiveUp{Count: n, Window: w}, nil
}

func (g *GiveUp) decodeJSON(node any) (err error) {
	s, err := stringNode(node)
	if err == nil {
		*g, err = ParseGiveUp(s)
	}
	return err
}

// ParseCodes reads a comma-separated list of exit codes (--fatal-exit 3,78).
func ParseCodes(s string) ([]int, error) {
	var codes []int
	for _, f := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 0 || c > 255 {
			return nil, fmt.Errorf("exit code %s is not a number from 0 to 255", clip.Quote(f))
		}
		codes = append(codes, c)
	}
	return codes, nil
}

// ParseDuration reads a Go duration (100ms, 1.5s, 2m) that is not negative.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s is not a duration like 100ms, 5s or 1m", clip.Quote(s))
	}
	return d, nil
}

// duration is a time.Duration written as a string in JSON ("5s").
type duration time.Duration

func (d *duration) decodeJSON(node any) error {
	s, err := stringNode(node)
	if err != nil {
		return err
	}
	v, err := ParseDuration(s)
	*d = duration(v)
	return err
}

// signal is a signal in JSON: a name ("TERM", "SIGHUP") or a number.
type signal unix.Signal

func (sig *signal) decodeJSON(node any) error {
	var s string
	switch n := node.(type) {
	case string:
		s = n
	case json.Number:
		s = string(n)
	default:
		return fmt.Errorf("want a signal name or number, not %s", describeNode(node))
	}
	v, err := forward.Parse(s)
	*sig = signal(v)
	return err
}

func stringNode(node any) (string, error) {
	s, ok := node.(string)
	if !ok {
		return "", fmt.Errorf("want a string, not %s", describeNode(node))
	}
	return s, nil
}
