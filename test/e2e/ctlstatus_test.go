package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Issue 21 item 3: `pidone ctl status` for a single-command pidone, asked
// from inside its PID and mount namespaces (as docker exec does) through
// --control-socket, decoded strictly with the struct docs/exit-report.md
// ("Live status") describes.

type liveStatus struct {
	Schema           int         `json:"schema"`
	Version          string      `json:"version"`
	Mode             string      `json:"mode"`
	Personality      string      `json:"personality"`
	PID1             bool        `json:"pid1"`
	Pid              int         `json:"pid"`
	StartTime        string      `json:"start_time"`
	Now              string      `json:"now"`
	Uptime           float64     `json:"uptime_seconds"`
	MainChild        *liveMain   `json:"main_child"`
	StopRequest      *signalName `json:"stop_request"`
	OrphansReaped    int         `json:"orphans_reaped"`
	ProcessesKnown   bool        `json:"processes_known"`
	ProcessesCount   int         `json:"processes_count"`
	ProcessesOmitted int         `json:"processes_omitted"`
	Processes        []leftover  `json:"processes"`
}

type liveMain struct {
	Pid           int      `json:"pid"`
	Argv          []string `json:"argv"`
	ArgvTruncated bool     `json:"argv_truncated"`
	End           procEnd  `json:"end"`
	StartTime     string   `json:"start_time"`
}

func ctlStatusJSON(t *testing.T, p *nsInit, args ...string) liveStatus {
	t.Helper()
	code, out := ctlInStdout(t, p, append([]string{"status", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("ctl status --json: exit %d, want 0\n%s", code, out)
	}
	d := json.NewDecoder(strings.NewReader(out))
	d.DisallowUnknownFields()
	var s liveStatus
	if err := d.Decode(&s); err != nil {
		t.Fatalf("ctl status --json: %v\n%s", err, out)
	}
	return s
}

// ctlInStdout is ctlIn with stdout alone (stderr is logged on failure).
func ctlInStdout(t *testing.T, p *nsInit, args ...string) (int, string) {
	t.Helper()
	pidone, _ := bins(t)
	argv := append(nsenterArgs(p.pid, "-p", "-m"), append([]string{pidone, "ctl"}, args...)...)
	cmd := exec.Command("nsenter", argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Logf("ctl %q stderr: %s", args, stderr.String())
	}
	return code, string(out)
}

// statusScript is a main child with a background sleep; each line on its
// stdin makes it leave one orphan for pidone to reap.
const statusScript = `sleep 1000 & echo "main $$ bg $!"; while read x; do sh -c 'sleep 0 & exit 0'; echo orphaned; done; wait`

func TestCtlStatusSingle(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	sock := filepath.Join(t.TempDir(), "pidone.sock")
	p := startWithProc(t, "-w", "--control-socket", sock, "--", "/bin/sh", "-c", statusScript)
	m := p.stdout.WaitFor(t, regexp.MustCompile(`^main (\d+) bg (\d+)$`), exitTimeout)
	mainPid, _ := strconv.Atoi(m[1])
	bgPid, _ := strconv.Atoi(m[2])

	var st unix.Stat_t
	if err := unix.Lstat(sock, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Mode&0o777 != 0o600 {
		t.Errorf("%s: mode %o, %v; want a socket with mode 0600", sock, st.Mode, err)
	}

	code, out := ctlIn(t, p, "status", "--control-socket", sock)
	for _, want := range []string{
		"running (pid 1, PID 1; pidone ",
		fmt.Sprintf("main child: pid %d, running for ", mainPid),
		"orphans reaped: 0\n",
		"processes below pidone: 2\n",
		fmt.Sprintf("\n%d ", bgPid),
		"sleep 1000\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("ctl status: exit %d, want 0 and %q in\n%s", code, want, out)
		}
	}

	s := ctlStatusJSON(t, p, "--control-socket", sock)
	if s.Schema != 1 || s.Mode != "single" || s.Personality != "pidone" || !s.PID1 || s.Pid != 1 || s.Version == "" || s.Uptime < 0 {
		t.Errorf("status %+v: want schema 1, single, pidone, PID 1", s)
	}
	if s.MainChild == nil || s.MainChild.Pid != mainPid || s.MainChild.End.How != "running" || s.MainChild.StartTime == "" ||
		len(s.MainChild.Argv) != 3 || s.MainChild.Argv[0] != "/bin/sh" || !strings.HasPrefix(statusScript, strings.Fields(s.MainChild.Argv[2])[0]) {
		t.Errorf("main_child %+v, want pid %d running, argv sh -c SCRIPT", s.MainChild, mainPid)
	}
	if !s.ProcessesKnown || s.ProcessesCount != 2 || len(s.Processes) != 2 || s.ProcessesOmitted != 0 {
		t.Fatalf("processes %+v (count %d), want the main child and its sleep, not ctl itself", s.Processes, s.ProcessesCount)
	}
	bg := s.Processes[1]
	if bg.Pid != bgPid || bg.PPid != mainPid || bg.Comm != "sleep" || strings.Join(bg.Argv, " ") != "sleep 1000" || bg.Starttime == 0 || bg.End.How != "running" {
		t.Errorf("background child %+v, want pid %d ppid %d comm sleep argv [sleep 1000]", bg, bgPid, mainPid)
	}

	// An orphan reaped (pidone's -w says when) counts at once.
	p.stdin.Write([]byte("go\n"))
	p.stdout.WaitFor(t, regexp.MustCompile(`^orphaned$`), exitTimeout)
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="reaped orphan"`), exitTimeout)
	if s := ctlStatusJSON(t, p, "--control-socket", sock); s.OrphansReaped < 1 {
		t.Errorf("orphans_reaped %d after an orphan was reaped, want 1 or more", s.OrphansReaped)
	}

	p.signal(syscall.SIGTERM)
	p.exitCode(exitTimeout)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("%s after pidone exited: %v, want it removed", sock, err)
	}
}

func TestCtlStatusPause(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	sock := filepath.Join(t.TempDir(), "pidone.sock")
	p := startWithProc(t, "-v", "--pause", "--control-socket", sock)
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="control socket: answering pidone ctl status" path=`), exitTimeout)
	code, out := ctlIn(t, p, "status", "--control-socket", sock)
	if code != 0 || !strings.Contains(out, "main child: none (--pause)\n") || !strings.Contains(out, "processes below pidone: 0\n") {
		t.Errorf("ctl status in pause mode: exit %d\n%s", code, out)
	}
	s := ctlStatusJSON(t, p, "--control-socket", sock)
	if s.MainChild != nil || s.ProcessesCount != 0 || !s.PID1 {
		t.Errorf("pause status %+v, want no main child, no processes", s)
	}
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// Without --control-socket, ctl inside the namespace sees pidone as PID 1
// and says how to turn the socket on (exit 4); outside, where no pidone
// is PID 1, nothing answers (exit 3).
func TestCtlStatusNoSocket(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	pidone, workload := bins(t)
	p := startWithProc(t, "-v", "--", workload, "sleep", "1h")
	// PID 1 is withproc until it has exec'd pidone.
	p.stderr.WaitFor(t, regexp.MustCompile(`msg=started`), exitTimeout)
	code, out := ctlIn(t, p, "status")
	for _, want := range []string{"no pidone answers", "/run/pidone.sock", "pidone is PID 1 here, started without a control socket",
		"--control-socket PATH", "PIDONE_CONTROL_SOCKET=PATH"} {
		if code != 4 || !strings.Contains(out, want) {
			t.Errorf("ctl status without a socket: exit %d, want 4 and %q in\n%s", code, want, out)
		}
	}
	code, out = runCmd(t, pidone, "ctl", "status", "--control-socket", filepath.Join(t.TempDir(), "none.sock"))
	if code != 3 || !strings.Contains(out, "--control-socket PATH") || strings.Contains(out, "PID 1 here") {
		t.Errorf("ctl status with nothing at the path: exit %d, want 3 and the hint\n%s", code, out)
	}
	code, out = runCmd(t, pidone, "ctl", "status", "--json", "--control-socket", filepath.Join(t.TempDir(), "none.sock"))
	if code != 3 || !strings.Contains(out, `"state": "not running"`) {
		t.Errorf("ctl status --json with nothing at the path: exit %d\n%s", code, out)
	}
}

// A client that connects and says nothing holds one slot for at most the
// server's deadline; the next ctl is answered meanwhile.
func TestCtlStatusSilentClient(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	_, workload := bins(t)
	sock := filepath.Join(t.TempDir(), "pidone.sock")
	p := startWithProc(t, "-v", "--control-socket", sock, "--", workload, "sleep", "1h")
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="control socket: answering pidone ctl status"`), exitTimeout)
	for i := 0; i < 3; i++ {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
			t.Fatal(err)
		}
	}
	if s := ctlStatusJSON(t, p, "--control-socket", sock); s.MainChild == nil || s.ProcessesCount != 1 {
		t.Errorf("status with silent clients connected: %+v", s)
	}
}

// The socket under attack by uid 65534 with CAP_DAC_OVERRIDE (so that
// the socket's mode lets it connect): a flood of connections, garbage and
// silence, all closed at once by the peer check and none answered; then,
// the socket's directory being the attacker's (a shared volume), the
// socket moved away and a symlink to a root file put in its place. pidone
// goes on answering root, rate-limits its log, and at exit neither
// follows the symlink nor removes it.
func TestCtlStatusStranger(t *testing.T) {
	t.Parallel()
	needRoot(t, "the attacker is uid 65534")
	_, workload := bins(t)
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "pidone.sock")
	p := startWithProc(t, "-v", "--control-socket", sock, "--", workload, "sleep", "1h")
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="control socket: answering pidone ctl status"`), exitTimeout)
	fdsBefore := countFDs(t, p.pid)

	attacker := exec.Command(workload, "ctlattack", "-n", "200", "-swap", "-target", secret, sock)
	attacker.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		AmbientCaps: []uintptr{unix.CAP_DAC_OVERRIDE}}
	a := startCmd(t, attacker, attacker.Args)
	m := a.stdout.WaitFor(t, regexp.MustCompile(`^connected (\d+)$`), exitTimeout)
	if m[1] == "0" {
		t.Fatalf("the attacker could not connect at all: the peer check is not what is tested\n%s", a.stderr.Tail(5))
	}
	a.stdout.WaitFor(t, regexp.MustCompile(`^closed `+m[1]+`$`), exitTimeout)
	a.stdout.WaitFor(t, regexp.MustCompile(`^answered 0$`), exitTimeout)
	a.stdout.WaitFor(t, regexp.MustCompile(`^swapped$`), exitTimeout)

	// Unaffected: root is answered (at the moved socket, the same one),
	// no descriptor is held for the attacker's open connections.
	moved := filepath.Join(dir, "moved.sock")
	if s := ctlStatusJSON(t, p, "--control-socket", moved); s.MainChild == nil || s.ProcessesCount != 1 {
		t.Errorf("status after the attack: %+v", s)
	}
	if n := countFDs(t, p.pid); n > fdsBefore {
		t.Errorf("pidone holds %d descriptors after the attack, %d before", n, fdsBefore)
	}
	refused := regexp.MustCompile(`level=WARN msg="control socket: refused a client of another user" uid=65534`)
	if n := p.stderr.Count(refused); n < 1 || n > 5 {
		t.Errorf("%d WARN lines for %s refused clients, want 1 (rate-limited)\n%s", n, m[1], p.stderr.Tail(10))
	}
	a.closeStdin()

	p.signal(syscall.SIGTERM)
	p.exitCode(exitTimeout)
	if b, err := os.ReadFile(secret); err != nil || string(b) != "root's\n" {
		t.Errorf("the symlink's target: %q, %v", b, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(secret, &st); err != nil || st.Mode&0o777 != 0o600 || st.Uid != 0 {
		t.Errorf("the symlink's target changed: mode %o uid %d, %v", st.Mode&0o777, st.Uid, err)
	}
	if target, err := os.Readlink(sock); err != nil || target != secret {
		t.Errorf("the attacker's symlink: %q, %v; pidone must leave a file it did not make", target, err)
	}
}

// A symlink planted at the path before pidone starts is not replaced or
// followed: pidone refuses to start, naming the path (exit 125).
func TestCtlStatusPlantedSymlink(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("x"), 0o600)
	sock := filepath.Join(dir, "pidone.sock")
	if err := os.Symlink(secret, sock); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, exitTimeout, "--control-socket", sock, "--", workload, "exit", "0")
	if code != 125 || !strings.Contains(strings.Join(stderr, "\n"), sock+" exists and is not a socket") {
		t.Errorf("exit %d, want 125 naming %s; stderr %q", code, sock, stderr)
	}
	if target, err := os.Readlink(sock); err != nil || target != secret {
		t.Errorf("the planted symlink: %q, %v", target, err)
	}
}

// `docker run --init -e PIDONE_CONTROL_SOCKET=...` and then `docker exec
// c pidone ctl status` with the same environment: the variable works under
// the docker-init name and tells ctl where to ask.
func TestCtlStatusDockerInitEnv(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	pidone, workload := bins(t)
	init := linkAs(t, pidone, "docker-init")
	sock := filepath.Join(t.TempDir(), "pidone.sock")
	env := append(os.Environ(), "PIDONE_CONTROL_SOCKET="+sock, "PIDONE_LOG_LEVEL=info")
	p := startInitEnv(t, env, workload, "withproc", init, "--", workload, "sleep", "1h")
	p.stderr.WaitFor(t, regexp.MustCompile(`control socket: answering pidone ctl status`), exitTimeout)
	argv := append(nsenterArgs(p.pid, "-p", "-m"), "env", "PIDONE_CONTROL_SOCKET="+sock, pidone, "ctl", "status", "--json")
	code, out := runCmd(t, "nsenter", argv...)
	var s liveStatus
	if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil || s.Personality != "docker-init" || s.MainChild == nil {
		t.Errorf("ctl status via PIDONE_CONTROL_SOCKET under docker-init: exit %d, %v\n%s", code, err, out)
	}
}

func countFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// Not PID 1 (a subreaper below the test): the processes are pidone's
// descendants, found by walking down from it, and pid1 is false.
func TestCtlStatusSubreaper(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	sock := filepath.Join(t.TempDir(), "pidone.sock")
	cmd := exec.Command(pidone, "-v", "--control-socket", sock, "--", "/bin/sh", "-c", `sleep 1000 & echo "main $$ bg $!"; exec `+workload+` sleep 1h`)
	p := startCmd(t, cmd, cmd.Args)
	m := p.stdout.WaitFor(t, regexp.MustCompile(`^main (\d+) bg (\d+)$`), exitTimeout)
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="control socket: answering pidone ctl status"`), exitTimeout)
	mainPid, _ := strconv.Atoi(m[1])
	bgPid, _ := strconv.Atoi(m[2])
	code, out := runCmd(t, pidone, "ctl", "status", "--json", "--control-socket", sock)
	var s liveStatus
	if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil {
		t.Fatalf("ctl status --json: exit %d, %v\n%s", code, err, out)
	}
	if s.PID1 || s.Pid != p.pid || s.MainChild == nil || s.MainChild.Pid != mainPid || !s.ProcessesKnown || s.ProcessesCount != 2 {
		t.Fatalf("status %+v, want pid %d not PID 1, main child %d and its sleep below it", s, p.pid, mainPid)
	}
	found := false
	for _, got := range s.Processes {
		found = found || got.Pid == bgPid && got.PPid == mainPid && got.Comm == "sleep"
	}
	if !found {
		t.Errorf("processes %+v, want %d (sleep) below %d", s.Processes, bgPid, mainPid)
	}
	p.signal(syscall.SIGTERM)
	p.exitCode(exitTimeout)
}
