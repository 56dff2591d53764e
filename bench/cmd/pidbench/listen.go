package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// listenRows measures replace reloads under load (issue 13): wrk against
// `pidone --workers 4 --listen web=tcp:127.0.0.1:PORT --ready notify
// --reload replace` over `workload httpserver`, with a replace reload every
// duration/(reloads+1), and counts the requests that failed. Side by side,
// the same run without --listen: each worker binds the port itself with
// SO_REUSEPORT, as it must without pidone's socket. pidone only; the peers
// have no workers mode.
//
// A failed request is any wrk counts as one: a socket error (connect: a
// refused connection; read or write: one reset under a request; timeout)
// or a response that is not 2xx/3xx. wrk keeps its connections alive; the
// server answers with "Connection: close" while it drains, so a
// connection is moved to another worker between two requests.
func listenRows(cfg *config) ([]row, error) {
	const group = "listen"
	shared := fmt.Sprintf("listen: failed requests, %d replace reloads in %v of wrk, --listen", cfg.listenReloads, cfg.listenDuration)
	reuse := fmt.Sprintf("listen: failed requests, %d replace reloads in %v of wrk, SO_REUSEPORT", cfg.listenReloads, cfg.listenDuration)
	rate := "listen: requests/s during the reloads, --listen"
	rateReuse := "listen: requests/s during the reloads, SO_REUSEPORT"
	na := func(why string) []row {
		return []row{naRow(group, shared, why), naRow(group, reuse, why), naRow(group, rate, why), naRow(group, rateReuse, why)}
	}
	if !hasOption(cfg.pidone, "--listen") {
		return na("--listen not built"), nil
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return na("wrk not installed (make bench installs the Debian package)"), nil
	}
	load0 := loadavg()
	a, err := listenRun(cfg, true)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	b, err := listenRun(cfg, false)
	if err != nil {
		return nil, fmt.Errorf("SO_REUSEPORT: %w", err)
	}
	load := load0 + " -> " + loadavg()
	only := func(v float64) map[string]float64 { return map[string]float64{"pidone": v} }
	return []row{
		{Group: group, Metric: shared, Unit: "requests", Digits: 0, Values: only(float64(a.failed())), Load: load,
			Target: target{Kind: "max", Limit: 0}, Note: a.note()},
		{Group: group, Metric: reuse, Unit: "requests", Digits: 0, Values: only(float64(b.failed())), Load: load,
			Note: b.note() + "; for comparison, no target"},
		{Group: group, Metric: rate, Unit: "req/s", Digits: 0, Values: only(a.rps), Load: load,
			Note: "wrk -t2 -c32 on 127.0.0.1, 4 workers, the same 2 cores"},
		{Group: group, Metric: rateReuse, Unit: "req/s", Digits: 0, Values: only(b.rps), Load: load,
			Note: "wrk -t2 -c32 on 127.0.0.1, 4 workers, the same 2 cores"},
	}, nil
}

// hasOption reports whether pidone's --help lists option.
func hasOption(pidone, option string) bool {
	out, _ := exec.Command(pidone, "--help").CombinedOutput()
	return strings.Contains(string(out), option)
}

// wrkResult is one run of wrk and what happened to the workers meanwhile.
type wrkResult struct {
	requests                           int
	connect, read, write, timeout, bad int
	rps                                float64
	reloads, replaced                  int
	pidsChanged                        bool
}

func (r wrkResult) failed() int { return r.connect + r.read + r.write + r.timeout + r.bad }

func (r wrkResult) note() string {
	changed := "every worker pid changed"
	if !r.pidsChanged {
		changed = "NOT every worker pid changed"
	}
	return fmt.Sprintf("%d requests; socket errors connect %d, read %d, write %d, timeout %d; non-2xx %d; %d of %d reloads replaced the workers; %s",
		r.requests, r.connect, r.read, r.write, r.timeout, r.bad, r.replaced, r.reloads, changed)
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in `)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
)

// parseWrk reads wrk's summary.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkRequests.FindStringSubmatch(out)
	rate := wrkRate.FindStringSubmatch(out)
	if m == nil || rate == nil {
		return r, fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	r.requests, _ = strconv.Atoi(m[1])
	r.rps, _ = strconv.ParseFloat(rate[1], 64)
	if s := wrkSocket.FindStringSubmatch(out); s != nil {
		r.connect, _ = strconv.Atoi(s[1])
		r.read, _ = strconv.Atoi(s[2])
		r.write, _ = strconv.Atoi(s[3])
		r.timeout, _ = strconv.Atoi(s[4])
	}
	if s := wrkNon2xx.FindStringSubmatch(out); s != nil {
		r.bad, _ = strconv.Atoi(s[1])
	}
	return r, nil
}

// freePort returns a loopback port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// listenRun runs one variant: shared (pidone's socket) or SO_REUSEPORT.
func listenRun(cfg *config, shared bool) (wrkResult, error) {
	port, err := freePort()
	if err != nil {
		return wrkResult{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	name := "listen-reuseport"
	argv := []string{cfg.pidone, "-v", "--workers", "4", "--ready", "notify", "--reload", "replace", "--grace", "10s"}
	server := []string{"--", cfg.workload, "httpserver"}
	if shared {
		name = "listen-shared"
		argv = append(argv, "--listen", "web=tcp:"+addr)
	} else {
		server = append(server, "-reuseport", addr)
	}
	argv = append(argv, server...)
	logPath := filepath.Join(cfg.out, "logs", name+".stderr")
	os.Remove(logPath)
	logFd, err := cfg.logFile(name)
	if err != nil {
		return wrkResult{}, err
	}
	null, err := devNull()
	if err != nil {
		unix.Close(logFd)
		return wrkResult{}, err
	}
	master, err := startInNewPIDNS(argv, null, logFd, logFd)
	unix.Close(null)
	unix.Close(logFd)
	if err != nil {
		return wrkResult{}, err
	}
	defer func() {
		unix.Kill(master, unix.SIGKILL)
		wait(master)
	}()
	if err := waitServing(addr, 30*time.Second); err != nil {
		return wrkResult{}, err
	}
	replacedLines := func() int {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), `msg="new generation ready; stopping the old one"`)
	}
	readyLines := func() int {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), `msg="worker ready"`)
	}
	// Every worker of the first generation is ready.
	for deadline := time.Now().Add(30 * time.Second); readyLines() < 4; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return wrkResult{}, fmt.Errorf("%d of 4 workers ready after 30s (see %s)", readyLines(), logPath)
		}
	}
	before, err := workerPids(master)
	if err != nil || len(before) != 4 {
		return wrkResult{}, fmt.Errorf("workers before the run: %v, %v", before, err)
	}

	wrk := exec.Command("wrk", "-t2", "-c32", "-d"+cfg.listenDuration.String(), "--timeout", "5s", "http://"+addr+"/")
	var out strings.Builder
	wrk.Stdout, wrk.Stderr = &out, &out
	if err := wrk.Start(); err != nil {
		return wrkResult{}, err
	}
	start := time.Now()
	every := cfg.listenDuration / time.Duration(cfg.listenReloads+1)
	reloads := 0
	for i := 1; i <= cfg.listenReloads; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		if err := unix.Kill(master, unix.SIGHUP); err != nil {
			wrk.Process.Kill()
			wrk.Wait()
			return wrkResult{}, err
		}
		reloads++
		// The next reload waits for this replacement: one that came
		// while a replacement is starting would abandon it.
		for deadline := time.Now().Add(every); replacedLines() < i && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := wrk.Wait(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v\n%s", err, out.String())
	}
	res, err := parseWrk(out.String())
	if err != nil {
		return res, err
	}
	res.reloads, res.replaced = reloads, replacedLines()
	// The old generation drains within its -drain (3 s); then only the
	// last generation's workers are left.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if after, err := workerPids(master); err == nil && len(after) == 4 {
			break
		}
	}
	after, _ := workerPids(master)
	res.pidsChanged = len(after) == 4
	for _, a := range after {
		for _, b := range before {
			if a == b {
				res.pidsChanged = false
			}
		}
	}
	cfg.logf("%s: %s; %.0f req/s", name, res.note(), res.rps)
	return res, nil
}

// waitServing polls addr until it answers HTTP, for at most d.
func waitServing(addr string, d time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer after %v: %v", addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
