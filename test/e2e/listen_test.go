package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Workers over sockets the master holds (--listen), readiness by the
// worker's word (--ready notify), and pidone ctl status per worker
// (docs/workers.md). The server is `workload httpserver`, which takes its
// socket from LISTEN_FDS, says READY=1, and drains on SIGTERM.

var (
	listeningTCP = regexp.MustCompile(`msg=listening socket=\S+ address=tcp:(127\.0\.0\.1:\d+)`)
	serverReady  = regexp.MustCompile(`^httpserver ready pid=(\d+) gen=(\d+) fds=(\d+)$`)
	drained      = regexp.MustCompile(`^httpserver drained pid=(\d+) served=(\d+) left=(\d+)$`)
	replaced     = regexp.MustCompile(`msg="new generation ready; stopping the old one"`)
)

// boundAddress waits for the master's log line of its first tcp socket and
// returns the address it bound (the port the kernel chose for port 0).
func boundAddress(t *testing.T, p *nsInit) string {
	t.Helper()
	m := p.stderr.WaitFor(t, listeningTCP, workersTimeout)
	return m[1]
}

func TestListenSocketsReachEveryWorker(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	p := startMaster(t, "-v", "--workers", "2", "--listen", "web=tcp:127.0.0.1:0", "--listen", "admin=unix:"+sock+",mode=0660",
		"--", workload, "worker", "-print-env", "LISTEN_FDS,LISTEN_FDNAMES,LISTEN_PID,NOTIFY_SOCKET")
	addr := boundAddress(t, p)
	starts := waitStarts(t, p, 2, nil)
	for _, w := range starts {
		want := map[string]string{"LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:admin", "LISTEN_PID": strconv.Itoa(w.pid), "NOTIFY_SOCKET": ""}
		for name, value := range want {
			p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker env index=%d %s=%s$`, w.index, name, regexp.QuoteMeta(value))), workersTimeout)
		}
		// fds 3 and 4 of the worker are the two sockets.
		host := hostPid(t, p, w.pid)
		for fd, want := range map[int]string{3: "socket:", 4: "socket:"} {
			if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", host, fd)); err != nil || !strings.HasPrefix(link, want) {
				t.Errorf("worker %d fd %d: %q, %v; want a socket", w.index, fd, link, err)
			}
		}
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("%s: %v, %v; want a socket with mode 0660", sock, fi, err)
	}
	// The workers never accept (`workload worker`), yet connections are
	// taken: the master's socket queues them.
	for _, c := range [][2]string{{"tcp", addr}, {"unix", sock}} {
		conn, err := net.DialTimeout(c[0], c[1], 5*time.Second)
		if err != nil {
			t.Errorf("connect to %s %s: %v", c[0], c[1], err)
			continue
		}
		conn.Close()
	}

	p.signal(syscall.SIGTERM)
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the unix socket is left after the master exited: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the master exited", addr)
	}
}

// loadResult is what the clients of a load saw.
type loadResult struct {
	mu       sync.Mutex
	ok       int
	failures []string
	pids     map[string]int // "pid=P gen=G" -> responses
}

// load runs clients against addr until stop is closed: half of them open a
// new connection for every request (a refused or reset connection shows),
// half keep connections alive (a worker closing one under a request
// shows). Each client is bounded by the request timeout and stop.
func load(addr string, clients int, stop <-chan struct{}) (*loadResult, *sync.WaitGroup) {
	res := &loadResult{pids: map[string]int{}}
	var wg sync.WaitGroup
	for i := range clients {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 0}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("http://" + addr + "/")
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				res.mu.Lock()
				if err != nil {
					res.failures = append(res.failures, err.Error())
				} else {
					res.ok++
					res.pids[strings.TrimSpace(string(body))]++
				}
				res.mu.Unlock()
			}
		}()
	}
	return res, &wg
}

func TestReplaceReloadOnSharedSocketsFailsNoRequest(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	const reloads = 3
	p := startMaster(t, "-v", "--workers", "2", "--listen", "web=tcp:127.0.0.1:0", "--ready", "notify",
		"--reload", "replace", "--grace", "10s", "--", workload, "httpserver")
	addr := boundAddress(t, p)
	p.stdout.WaitForNth(t, serverReady, 2, workersTimeout)
	first := map[string]bool{}
	for _, l := range p.stdout.Snapshot() {
		if m := serverReady.FindStringSubmatch(l); m != nil {
			first[m[1]] = true
		}
	}

	stop := make(chan struct{})
	res, wg := load(addr, 4, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	// A request in flight when its worker is asked to stop is answered.
	slow := make(chan string, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + addr + "/?sleep=1500ms")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}()
	time.Sleep(200 * time.Millisecond)

	for i := 1; i <= reloads; i++ {
		p.signal(syscall.SIGHUP)
		p.stderr.WaitForNth(t, replaced, i, workersTimeout)
		// The old generation has drained and exited before the next one.
		p.stdout.WaitForNth(t, drained, 2*i, workersTimeout)
		p.stdout.WaitForNth(t, serverReady, 2*(i+1), workersTimeout)
		time.Sleep(300 * time.Millisecond) // load on the new generation
	}
	close(stop)
	wg.Wait()

	select {
	case got := <-slow:
		if !strings.HasPrefix(got, "200 pid=") || !strings.HasSuffix(got, " gen=1") {
			t.Errorf("the request in flight across the first reload: %q; want 200 from a generation 1 worker", got)
		}
	case <-time.After(workersTimeout):
		t.Error("the request in flight across the first reload never returned")
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	if len(res.failures) > 0 {
		t.Errorf("%d of %d requests failed across %d replace reloads; first: %q", len(res.failures), res.ok+len(res.failures), reloads, res.failures[0])
	}
	if res.ok < 50 {
		t.Errorf("only %d requests succeeded: the load did not run", res.ok)
	}
	gens := map[string]bool{}
	for who := range res.pids {
		gens[strings.SplitN(who, "gen=", 2)[1]] = true
	}
	if !gens["1"] || !gens[strconv.Itoa(reloads+1)] {
		t.Errorf("responses came from generations %v; want 1 through %d", gens, reloads+1)
	}
	// Every worker pid changed: none of the first generation is alive.
	for _, l := range p.stdout.Snapshot() {
		if m := drained.FindStringSubmatch(l); m != nil {
			delete(first, m[1])
		}
	}
	if len(first) != 0 {
		t.Errorf("first-generation workers %v never drained", first)
	}
	t.Logf("%d requests, 0 failed, %d replace reloads; responses per worker: %v", res.ok, reloads, res.pids)
}

func TestReadyFromAnotherPidIsNotBelieved(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	// The worker's child says READY=1: the kernel names the child as the
	// sender, so the worker is never ready, and --ready-timeout fails it.
	p := startMaster(t, "-v", "--workers", "1", "--listen", "tcp:127.0.0.1:0", "--ready", "notify", "--ready-timeout", "2s",
		"--restart", "on-failure", "--backoff-min", "30s", "--", workload, "httpserver", "-notify-from-child")
	p.stderr.WaitFor(t, regexp.MustCompile(`level=WARN msg="notification ignored: its sender is not a worker" sender=\d+ message="READY=1"`), workersTimeout)
	p.stderr.WaitFor(t, regexp.MustCompile(`level=WARN msg="worker did not say READY=1 within --ready-timeout; stopping it as failed to start" group=main slot=0 gen=1 pid=\d+ timeout=2s`), workersTimeout)
	// It drains on SIGTERM and exits (0, unless the machine is so slow
	// that SIGTERM came before its handler), and counts as a failure to
	// start either way: --restart on-failure respawns it (the first
	// respawn is immediate).
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="worker exited" group=main slot=0 gen=1`), workersTimeout)
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="respawning worker" group=main slot=0`), workersTimeout)
	if n := p.stderr.Count(regexp.MustCompile(`msg="worker ready"`)); n != 0 {
		t.Errorf("%d workers counted as ready on a READY=1 their child sent", n)
	}
}

func TestListenBadInput(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "workers.json")
	writeFile(t, config, fmt.Sprintf(`{"groups": {"web": {"listen": ["web=tcp6:127.0.0.1:80"], "process": {"args": [%q, "worker"]}}}}`, workload))
	for _, tc := range []struct {
		doc  string
		args []string
		msg  string
	}{
		{"a port in use", []string{"--listen", "web=tcp:" + busy.Addr().String()},
			`listen web=tcp:` + busy.Addr().String() + `: address already in use: bind: another socket is bound to this address`},
		{"a unix path in a missing directory", []string{"--listen", "unix:" + dir + "/missing/app.sock"},
			`the directory ` + dir + `/missing does not exist (pidone does not create it)`},
		{"a malformed SPEC", []string{"--listen", "tcp:127.0.0.1"}, `pidone: --listen: listen "tcp:127.0.0.1": "127.0.0.1" is not HOST:PORT`},
		{"an unknown network", []string{"--listen", "sctp::80"}, `listen "sctp::80": unknown network "sctp"`},
		{"a trailing comma (issue 18)", []string{"--listen", "tcp::0,"}, `pidone: --listen: listen "tcp::0,": an empty option: a comma too many`},
		{"the same socket twice", []string{"--listen", "a=tcp:127.0.0.1:0", "--listen", "b=tcp:127.0.0.1:0"}, "is given twice"},
		{"a bad --ready", []string{"--ready", "soon"}, `pidone: --ready: unknown readiness "soon"`},
	} {
		args := append([]string{"--workers", "2"}, tc.args...)
		args = append(args, "--", workload, "worker")
		code, stdout, stderr := run(t, workersTimeout, args...)
		if code != 2 || !strings.Contains(strings.Join(stderr, "\n"), tc.msg) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tc.doc, code, stderr, tc.msg)
		}
		if n := len(parseStarts(stdout)); n != 0 {
			t.Errorf("%s: %d workers started before the error", tc.doc, n)
		}
	}
	code, _, stderr := run(t, workersTimeout, "--config", config)
	if want := `groups.web.listen[0]: listen \"web=tcp6:127.0.0.1:80\": 127.0.0.1 is not an IPv6 address`; code != 2 || !strings.Contains(strings.Join(stderr, "\n"), want) {
		t.Errorf("config file: exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}

func TestCtlStatusShowsEveryWorker(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	_, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "master.pid")
	p := startMaster(t, "-v", "--workers", "2", "--pidfile", pidfile, "--listen", "web=tcp:127.0.0.1:0", "--ready", "notify",
		"--", workload, "httpserver")
	addr := boundAddress(t, p)
	p.stdout.WaitForNth(t, serverReady, 2, workersTimeout)
	row := regexp.MustCompile(`(?m)^main\s+(\d)\s+1\s+serving\s+(\d+)\s+running\s+yes\s+(\d+)\s+\S+$`)
	var out string
	eventually(t, workersTimeout, func() (bool, string) {
		var code int
		code, out = ctlIn(t, p, "status", "--pidfile", pidfile)
		return code == 0 && len(row.FindAllStringSubmatch(out, -1)) == 2, fmt.Sprintf("ctl status: %d\n%s", code, out)
	})
	if !strings.HasPrefix(out, "running (pid 1)\ngeneration 1\n") || !strings.Contains(out, "listening: web tcp:"+addr+" (group main)") {
		t.Errorf("ctl status:\n%s", out)
	}
	victim, _ := strconv.Atoi(row.FindStringSubmatch(out)[2])

	// Kill one worker: its slot shows a new pid, not ready until it says
	// so, and one restart.
	if err := syscall.Kill(hostPid(t, p, victim), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var st struct {
		State      string `json:"state"`
		Pid        int    `json:"pid"`
		Generation int    `json:"generation"`
		Workers    []struct {
			Slot     int    `json:"slot"`
			Pid      int    `json:"pid"`
			Ready    bool   `json:"ready"`
			Restarts int    `json:"restarts"`
			State    string `json:"state"`
		} `json:"workers"`
	}
	eventually(t, workersTimeout, func() (bool, string) {
		code, js := ctlIn(t, p, "status", "--json", "--pidfile", pidfile)
		if err := json.Unmarshal([]byte(js), &st); err != nil || code != 0 {
			return false, fmt.Sprintf("ctl status --json: %d %v\n%s", code, err, js)
		}
		restarts, ready := 0, 0
		for _, w := range st.Workers {
			restarts += w.Restarts
			if w.Ready && w.Pid != victim {
				ready++
			}
		}
		return st.State == "running" && st.Pid == 1 && st.Generation == 1 && len(st.Workers) == 2 && restarts == 1 && ready == 2,
			fmt.Sprintf("want 2 ready workers, one restart, no pid %d:\n%s", victim, js)
	})
}

func TestSupervisorIsToldReadyReloadingAndStopping(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	path := filepath.Join(t.TempDir(), "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	next := func(want string) string {
		t.Helper()
		sock.SetReadDeadline(time.Now().Add(workersTimeout))
		buf := make([]byte, 1024)
		n, _, err := sock.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for %s from pidone: %v", want, err)
		}
		msg := string(buf[:n])
		if !strings.HasPrefix(msg, want+"\n") {
			t.Fatalf("pidone told its supervisor %q; want %s first", msg, want)
		}
		return msg
	}
	env := append(os.Environ(), "NOTIFY_SOCKET="+path)
	p := startInitEnv(t, env, pidone, "-v", "--workers", "2", "--listen", "tcp:127.0.0.1:0", "--ready", "notify",
		"--reload", "replace", "--", workload, "httpserver")

	if msg := next("READY=1"); !strings.Contains(msg, "STATUS=2 of 2 workers ready, generation 1") {
		t.Errorf("READY=1 before every worker was ready: %q", msg)
	}
	p.signal(syscall.SIGHUP)
	if msg := next("RELOADING=1"); !regexp.MustCompile(`\nMONOTONIC_USEC=\d+\n`).MatchString(msg) {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", msg)
	}
	if msg := next("READY=1"); !strings.Contains(msg, "STATUS=2 of 2 workers ready, generation 2") {
		t.Errorf("READY=1 after the reload: %q; want it once the new generation is ready", msg)
	}
	p.stderr.WaitFor(t, replaced, workersTimeout)
	p.signal(syscall.SIGTERM)
	next("STOPPING=1")
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("exit code %d", code)
	}
	// The workers spoke to pidone, never to pidone's supervisor.
	sock.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := sock.ReadFrom(make([]byte, 1024)); err == nil {
		t.Errorf("an extra message reached the supervisor (%d bytes): a worker got its NOTIFY_SOCKET", n)
	}
}
