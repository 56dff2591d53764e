package main

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// workersRows measures pidone's master-worker mode (`pidone --workers N`),
// which the peers do not have: their columns stay empty. Workers are
// `benchkid worker`, which writes "W" when it starts and "H" for every
// SIGHUP, each a line on the stdout they share with the master.
//
//   - respawn: a worker is SIGKILLed from outside; the figure is the time
//     until its replacement has written "W" (so it includes the new
//     worker's exec and start). --backoff-reset 10ms makes every death
//     after a healthy run the first of its sequence, which pidone respawns
//     at once.
//   - reload fan-out: SIGHUP to a master of 256 workers, until all 256 have
//     written "H". This includes the master's 100 ms reload window, in
//     which further reload signals join the same reload (docs/workers.md).
//   - the master's RSS with 256 workers up.
func workersRows(cfg *config) ([]row, error) {
	const group = "workers"
	if !hasWorkers(cfg.pidone) {
		why := "workers mode not built"
		return []row{
			naRow(group, "workers: death to replacement running", why),
			naRow(group, "workers: reload fan-out to 256 workers", why),
			naRow(group, "workers: master RSS with 256 workers", why),
		}, nil
	}
	load0 := loadavg()
	respawn, err := workersRespawn(cfg, 4, cfg.workerKills)
	if err != nil {
		return nil, fmt.Errorf("respawn: %w", err)
	}
	fanout, rss, err := workersFanout(cfg, 256, cfg.workerReloads)
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	load := load0 + " -> " + loadavg()
	only := func(v float64) map[string]float64 { return map[string]float64{"pidone": v} }
	return []row{
		{Group: group, Metric: "workers: death to replacement running", Unit: "ms", Digits: 2,
			Values: only(median(respawn)), Load: load,
			Note: fmt.Sprintf("median of %d SIGKILLs, 4 workers; p90 %.2f ms; pidone only", len(respawn), percentile(respawn, 90))},
		{Group: group, Metric: "workers: reload fan-out to 256 workers", Unit: "ms", Digits: 1,
			Values: only(median(fanout)), Load: load,
			Note: fmt.Sprintf("median of %d SIGHUPs, from kill to the 256th worker's answer; includes the 100 ms reload window; pidone only", len(fanout))},
		{Group: group, Metric: "workers: master RSS with 256 workers", Unit: "KiB", Digits: 0,
			Values: only(rss), Load: load, Note: "VmRSS of the master; pidone only"},
	}, nil
}

// workerMaster is a running `pidone --workers N` and the lines its workers
// write, each with the time the harness read it.
type workerMaster struct {
	pid   int
	lines chan workerLine
}

type workerLine struct {
	text string
	at   time.Time
}

func startWorkers(cfg *config, n int, extra ...string) (*workerMaster, error) {
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	defer unix.Close(null)
	logFd, err := cfg.logFile("workers")
	if err != nil {
		return nil, err
	}
	defer unix.Close(logFd)
	r, w, err := pipe()
	if err != nil {
		return nil, err
	}
	argv := append([]string{cfg.pidone, "--workers", fmt.Sprint(n)}, extra...)
	argv = append(argv, "--", cfg.benchkid, "worker")
	pid, err := startInNewPIDNS(argv, null, w, logFd)
	unix.Close(w)
	if err != nil {
		unix.Close(r)
		return nil, err
	}
	m := &workerMaster{pid: pid, lines: make(chan workerLine, 4*n)}
	go func() {
		defer unix.Close(r)
		sc := bufio.NewScanner(fdReader(r))
		for sc.Scan() {
			m.lines <- workerLine{text: strings.TrimSpace(sc.Text()), at: time.Now()}
		}
		close(m.lines)
	}()
	return m, nil
}

func (m *workerMaster) stop() {
	unix.Kill(m.pid, unix.SIGKILL)
	wait(m.pid)
	for range m.lines {
	}
}

// await reads lines until n of them say want, for at most d, and returns
// when the last one was read.
func (m *workerMaster) await(want string, n int, d time.Duration) (time.Time, error) {
	timeout := time.After(d)
	var last time.Time
	for got := 0; got < n; {
		select {
		case l, ok := <-m.lines:
			if !ok {
				return last, fmt.Errorf("the master's output ended after %d of %d %q lines", got, n, want)
			}
			if l.text == want {
				got++
				last = l.at
			}
		case <-timeout:
			return last, fmt.Errorf("%d of %d %q lines after %v", got, n, want, d)
		}
	}
	return last, nil
}

// workerPids lists the master's children: its workers (host pids).
func workerPids(master int) ([]int, error) {
	tids, err := tasks(master)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, tid := range tids {
		b, err := readFile(fmt.Sprintf("/proc/%d/task/%s/children", master, tid))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(b) {
			var p int
			if _, err := fmt.Sscan(f, &p); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids, nil
}

func workersRespawn(cfg *config, n, kills int) ([]float64, error) {
	m, err := startWorkers(cfg, n, "--backoff-reset", "10ms")
	if err != nil {
		return nil, err
	}
	defer m.stop()
	if _, err := m.await("W", n, 30*time.Second); err != nil {
		return nil, err
	}
	var ms []float64
	for i := range kills {
		time.Sleep(50 * time.Millisecond) // a healthy run: longer than --backoff-reset
		pids, err := workerPids(m.pid)
		if err != nil || len(pids) == 0 {
			return nil, fmt.Errorf("no workers found under %d: %v", m.pid, err)
		}
		victim := pids[i%len(pids)]
		t0 := time.Now()
		if err := unix.Kill(victim, unix.SIGKILL); err != nil {
			return nil, err
		}
		at, err := m.await("W", 1, 10*time.Second)
		if err != nil {
			return nil, err
		}
		ms = append(ms, float64(at.Sub(t0).Microseconds())/1e3)
	}
	cfg.logf("workers respawn n=%d median=%.2fms p90=%.2fms", len(ms), median(ms), percentile(ms, 90))
	return ms, nil
}

func workersFanout(cfg *config, n, reloads int) ([]float64, float64, error) {
	m, err := startWorkers(cfg, n)
	if err != nil {
		return nil, 0, err
	}
	defer m.stop()
	if _, err := m.await("W", n, 2*time.Minute); err != nil {
		return nil, 0, err
	}
	time.Sleep(500 * time.Millisecond)
	mem, err := memoryOf(m.pid)
	if err != nil {
		return nil, 0, err
	}
	var ms []float64
	for range reloads {
		time.Sleep(300 * time.Millisecond) // past the previous reload's window
		t0 := time.Now()
		if err := unix.Kill(m.pid, unix.SIGHUP); err != nil {
			return nil, 0, err
		}
		at, err := m.await("H", n, 30*time.Second)
		if err != nil {
			return nil, 0, err
		}
		ms = append(ms, float64(at.Sub(t0).Microseconds())/1e3)
	}
	cfg.logf("workers fan-out n=%d median=%.1fms master rss=%dKiB threads=%d", len(ms), median(ms), mem.RSS, mem.Threads)
	return ms, float64(mem.RSS), nil
}
