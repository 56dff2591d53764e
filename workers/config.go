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

// needsHelper reports whether the worker must start through the exec helper
// (exec_helper.go): syscall.ForkExec cannot set rlimits, a umask or
// no_new_privs in the child.
func (p *Process) needsHelper() bool {
	return len(p.Rlimits) > 0 || p.NoNewPrivileges || p.User != nil && p.User.Umask != nil
}

// Load returns the worker groups the options describe, reading the
// configuration file or bundle if there is one. A reload calls it again; an
// error leaves the running workers alone.
func (o *Options) Load() ([]*GroupSpec, error) {
	switch {
	case o.ConfigPath != "":
		data, err := os.ReadFile(o.ConfigPath)
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

// groupName reports whether name follows the rule that decodeJSON's error
// states: ASCII letters, digits, '_', '.' and '-', starting with a letter or
// digit. Written out by hand so that the binary does not link regexp.
func groupName(name string) bool {
	if name == "" || !isLetter(name[0]) && !isDigit(name[0]) {
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
			return pathErrorf(join("", name), "group names are letters, digits, '_', '.' and '-', starting with a letter or digit")
		}
		g := namedGroup{name: name}
		if err := assign(join("", name), obj.vals[name], reflect.ValueOf(&g.fileGroup).Elem()); err != nil {
			return err
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
	for _, g := range fc.Groups {
		path := join("groups", g.name)
		spec, err := o.group(path, g)
		if err != nil {
			return nil, err
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
	return assign("", node, reflect.ValueOf(&p.Process).Elem())
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
			return Process{}, pathErrorf(fmt.Sprintf("%s.env[%d]", path, i), "want NAME=VALUE, not %q", kv)
		}
	}
	if w.Cwd != "" && !filepath.IsAbs(w.Cwd) {
		return Process{}, pathErrorf(join(path, "cwd"), "must be an absolute path, not %q", w.Cwd)
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
			return Process{}, pathErrorf(at+".type", "unknown rlimit %q", rl.Type)
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
func loadBundleProcess(path string) (Process, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Process{}, err
	}
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
	if err := assign("process", obj.vals["process"], reflect.ValueOf(&p).Elem()); err != nil {
		return Process{}, fmt.Errorf("%s: %w", path, err)
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

// ParseCount reads --workers: a positive number or "auto".
func ParseCount(s string) (Count, error) {
	if s == "auto" {
		return Count{Auto: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Count{}, fmt.Errorf("worker count %q is not a positive number or auto", s)
	}
	return Count{N: n}, nil
}

func (c *Count) decodeJSON(node any) error {
	var err error
	switch n := node.(type) {
	case string:
		if n != "auto" {
			return fmt.Errorf("want a positive number or \"auto\", not %q", n)
		}
		*c = Count{Auto: true}
	case json.Number:
		*c, err = ParseCount(string(n))
	default:
		err = fmt.Errorf("want a positive number or \"auto\", not %s", describeNode(node))
	}
	return err
}

// resolve returns the number of workers; def when none was given.
func (c Count) resolve(def int) (int, error) {
	switch {
	case c.Auto:
		n, _, err := CPUs()
		return n, err
	case c.N > 0:
		return c.N, nil
	}
	return def, nil
}

// ParseRestart reads --restart.
func ParseRestart(s string) (Restart, error) {
	i := slices.Index([]string{"always", "on-failure", "never"}, s)
	if i < 0 {
		return 0, fmt.Errorf("unknown restart policy %q (want always, on-failure or never)", s)
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
		return 0, fmt.Errorf("unknown throttle %q (want backoff or hmain)", s)
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
		return 0, fmt.Errorf("unknown reload mode %q (want signal or replace)", s)
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
		return GiveUp{}, fmt.Errorf("give-up %q is not COUNT/WINDOW (like 5/60s) or off", s)
	}
	w, err := ParseDuration(ws)
	if err != nil || w <= 0 {
		return GiveUp{}, fmt.Errorf("give-up %q: the window must be a positive duration (like 60s)", s)
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
			return nil, fmt.Errorf("exit code %q is not a number from 0 to 255", f)
		}
		codes = append(codes, c)
	}
	return codes, nil
}

// ParseDuration reads a Go duration (100ms, 1.5s, 2m) that is not negative.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration like 100ms, 5s or 1m", s)
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
