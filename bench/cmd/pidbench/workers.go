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
//   - respawn: with the default options, each of N workers is SIGKILLed
//     once from outside, so every death is the first of its slot's
//     sequence, which docs/workers.md promises to respawn at once; the
//     figure is the time until the replacement has written "W" (so it
//     includes the new worker's exec and start).
//   - reload fan-out: SIGHUP to a master of 256 workers, until all 256 have
//     written "H". The master acts on the first reload signal at once.
//   - reload burst: 20 SIGHUPs 1 ms apart to that master; the reloads it
//     makes are counted by the workers' "H" lines.
//   - the master's RSS with 256 workers up.
func workersRows(cfg *config, inits []initSpec) ([]row, error) {
	const group = "workers"
	var builds []initSpec
	for _, in := range inits {
		if isSubject(in.Name) && hasWorkers(in.Path) {
			builds = append(builds, in)
		}
	}
	if len(builds) == 0 {
		why := "workers mode not built"
		return []row{
			naRow(group, "workers: death to replacement running", why),
			naRow(group, "workers: reload fan-out to 256 workers", why),
			naRow(group, "workers: reloads from a burst of 20 reload signals", why),
			naRow(group, "workers: master RSS with 256 workers", why),
		}, nil
	}
	load0 := loadavg()
	respawn, p90 := map[string]float64{}, map[string]float64{}
	fanout, fanMax, reloads, rss := map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
	kills, err := workersRespawn(cfg, builds, cfg.workerKills)
	if err != nil {
		return nil, fmt.Errorf("respawn: %w", err)
	}
	for name, ms := range kills {
		respawn[name], p90[name] = median(ms), percentile(ms, 90)
	}
	fans, err := workersFanout(cfg, builds, 256, cfg.workerReloads, 20)
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	for name, f := range fans {
		fanout[name], fanMax[name], reloads[name], rss[name] = median(f.ms), percentile(f.ms, 100), f.reloads, f.rss
	}
	load := load0 + " -> " + loadavg()
	return []row{
		{Group: group, Metric: "workers: death to replacement running", Unit: "ms", Digits: 2,
			Values: respawn, Load: load, Target: target{Kind: "max", Limit: 5}, NoRatio: true,
			Note: fmt.Sprintf("median of %d SIGKILLs, each the first death of one of %d workers, default options; p90 %s; pidone builds only",
				cfg.workerKills, cfg.workerKills, perBuild(p90, builds, "%.2f ms"))},
		{Group: group, Metric: "workers: reload fan-out to 256 workers", Unit: "ms", Digits: 1,
			Values: fanout, Load: load, Target: target{Kind: "max", Limit: 20}, NoRatio: true,
			Note: fmt.Sprintf("median of %d SIGHUPs, from kill to the 256th worker's answer; max %s; pidone builds only",
				cfg.workerReloads, perBuild(fanMax, builds, "%.1f ms"))},
		{Group: group, Metric: "workers: reloads from a burst of 20 reload signals", Unit: "count", Digits: 1,
			Values: reloads, Load: load, Target: target{Kind: "max", Limit: 2}, NoRatio: true,
			Note: "20 SIGHUPs 1 ms apart to the master of 256; reloads counted by the workers' answers; pidone builds only"},
		{Group: group, Metric: "workers: master RSS with 256 workers", Unit: "KiB", Digits: 0,
			Values: rss, Load: load, NoRatio: true, Note: "VmRSS of the master; pidone builds only"},
	}, nil
}

// perBuild formats one figure per build: "pidone 1.2 ms, pidone-base 3.4 ms".
func perBuild(v map[string]float64, builds []initSpec, format string) string {
	var parts []string
	for _, b := range builds {
		parts = append(parts, b.Name+" "+fmt.Sprintf(format, v[b.Name]))
	}
	return strings.Join(parts, ", ")
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

func startWorkers(cfg *config, pidone initSpec, n int, extra ...string) (*workerMaster, error) {
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
	argv := append([]string{pidone.Path, "--workers", fmt.Sprint(n)}, extra...)
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

// startMasters starts one master of n workers per build, all at once, and
// waits until every worker is up. stop ends them all.
func startMasters(cfg *config, builds []initSpec, n int) (masters map[string]*workerMaster, stop func(), err error) {
	masters = map[string]*workerMaster{}
	stop = func() {
		for _, m := range masters {
			m.stop()
		}
	}
	for _, b := range builds {
		m, err := startWorkers(cfg, b, n)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("%s: %w", b.Name, err)
		}
		masters[b.Name] = m
		if _, err := m.await("W", n, 2*time.Minute); err != nil {
			stop()
			return nil, nil, fmt.Errorf("%s: %w", b.Name, err)
		}
	}
	return masters, stop, nil
}

// workersRespawn kills each of n workers of every build's master once, the
// builds taking turns, and returns the times from kill to the
// replacement's "W", per build.
func workersRespawn(cfg *config, builds []initSpec, n int) (map[string][]float64, error) {
	masters, stop, err := startMasters(cfg, builds, n)
	if err != nil {
		return nil, err
	}
	defer stop()
	first := map[string][]int{}
	for _, b := range builds {
		pids, err := workerPids(masters[b.Name].pid)
		if err != nil || len(pids) != n {
			return nil, fmt.Errorf("%s: want %d workers, found %v (%v)", b.Name, n, pids, err)
		}
		first[b.Name] = pids
	}
	ms := map[string][]float64{}
	for i := range n {
		for _, b := range rotate(builds, i) {
			time.Sleep(50 * time.Millisecond) // let the previous replacement settle
			t0 := time.Now()
			if err := unix.Kill(first[b.Name][i], unix.SIGKILL); err != nil {
				return nil, err
			}
			at, err := masters[b.Name].await("W", 1, 10*time.Second)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name, err)
			}
			ms[b.Name] = append(ms[b.Name], float64(at.Sub(t0).Microseconds())/1e3)
		}
	}
	for _, b := range builds {
		xs := ms[b.Name]
		cfg.logf("workers %s respawn n=%d median=%.2fms p90=%.2fms max=%.2fms", b.Name, len(xs), median(xs), percentile(xs, 90), percentile(xs, 100))
	}
	return ms, nil
}

// fanout is what workersFanout measures for one build.
type fanout struct {
	ms      []float64 // kill to the last worker's answer, per reload
	reloads float64   // reloads made for the burst
	rss     float64   // the master's VmRSS, KiB
}

// workersFanout times reloads of masters of n workers, the builds taking
// turns, then counts the reloads a burst of reload signals gives.
func workersFanout(cfg *config, builds []initSpec, n, reloads, burst int) (map[string]*fanout, error) {
	masters, stop, err := startMasters(cfg, builds, n)
	if err != nil {
		return nil, err
	}
	defer stop()
	time.Sleep(500 * time.Millisecond)
	out := map[string]*fanout{}
	for _, b := range builds {
		mem, err := memoryOf(masters[b.Name].pid)
		if err != nil {
			return nil, err
		}
		out[b.Name] = &fanout{rss: float64(mem.RSS)}
	}
	for i := range reloads {
		for _, b := range rotate(builds, i) {
			m := masters[b.Name]
			time.Sleep(300 * time.Millisecond) // past the previous reload's hold
			t0 := time.Now()
			if err := unix.Kill(m.pid, unix.SIGHUP); err != nil {
				return nil, err
			}
			at, err := m.await("H", n, 30*time.Second)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name, err)
			}
			out[b.Name].ms = append(out[b.Name].ms, float64(at.Sub(t0).Microseconds())/1e3)
		}
	}
	for _, b := range builds {
		m := masters[b.Name]
		time.Sleep(300 * time.Millisecond)
		for range burst {
			if err := unix.Kill(m.pid, unix.SIGHUP); err != nil {
				return nil, err
			}
			time.Sleep(time.Millisecond) // apart, or the kernel merges them
		}
		answers := m.count("H", 2*time.Second)
		f := out[b.Name]
		f.reloads = float64(answers) / float64(n)
		cfg.logf("workers %s fan-out n=%d median=%.1fms max=%.1fms; burst of %d SIGHUPs: %d answers (%.2f reloads); master rss=%.0fKiB",
			b.Name, len(f.ms), median(f.ms), percentile(f.ms, 100), burst, answers, f.reloads, f.rss)
	}
	return out, nil
}

// count counts the lines saying want that arrive within d.
func (m *workerMaster) count(want string, d time.Duration) int {
	timeout := time.After(d)
	n := 0
	for {
		select {
		case l, ok := <-m.lines:
			if !ok {
				return n
			}
			if l.text == want {
				n++
			}
		case <-timeout:
			return n
		}
	}
}
