package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// idleProbe is one init running benchkid idle.
type idleProbe struct {
	*ready
	kid int // benchkid idle's host pid
}

// idleRows runs every init at once over `benchkid idle`, a child that never
// wakes up on its own, and measures what an idle init costs and what it
// costs to come back from idle:
//
//   - after cfg.idleSettle (long enough for pidone to have trimmed itself,
//     internal/trim), the context switches of all of each init's threads
//     over cfg.idleWindow: every one is a wake-up of the init;
//   - memory then (settled);
//   - the first signal forwarded and the first orphan reaped after that
//     idle time, with the init's major faults for each: what paging back in
//     costs;
//   - memory again right after a burst of signals and reaps.
func idleRows(cfg *config, inits []initSpec) ([]row, error) {
	load0 := loadavg()

	started, stop, err := startAll(cfg, "idle", inits, "idle")
	defer stop()
	if err != nil {
		return nil, err
	}
	var probes []*idleProbe
	for _, r := range started {
		p := &idleProbe{ready: r}
		if p.kid, err = onlyChild(r.pid); err != nil {
			return nil, fmt.Errorf("%s: %v", r.spec.Name, err)
		}
		probes = append(probes, p)
	}
	time.Sleep(cfg.idleSettle)
	before := map[string]int64{}
	for _, p := range probes {
		if before[p.spec.Name], err = ctxSwitches(p.pid); err != nil {
			return nil, err
		}
	}
	time.Sleep(cfg.idleWindow)
	wake, rss, pss, threads := map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, p := range probes {
		name := p.spec.Name
		after, err := ctxSwitches(p.pid)
		if err != nil {
			return nil, err
		}
		m, err := memoryOf(p.pid)
		if err != nil {
			return nil, err
		}
		wake[name] = float64(after - before[name])
		rss[name], pss[name], threads[name] = float64(m.RSS), float64(m.PSS), float64(m.Threads)
		cfg.logf("idle %-9s wakeups=%d rss=%dKiB pss=%dKiB threads=%d", name, after-before[name], m.RSS, m.PSS, m.Threads)
	}

	// Back from idle: one signal, then one orphan, for each init in turn.
	sigUs, sigFaults, reapUs, reapFaults := map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, p := range probes {
		name := p.spec.Name
		d, faults, err := p.firstAfterIdle(p.signalRoundTrip)
		if err != nil {
			return nil, fmt.Errorf("%s: first signal after idle: %v", name, err)
		}
		sigUs[name], sigFaults[name] = float64(d.Nanoseconds())/1e3, float64(faults)
		d, faults, err = p.firstAfterIdle(p.reapOne)
		if err != nil {
			return nil, fmt.Errorf("%s: first reap after idle: %v", name, err)
		}
		reapUs[name], reapFaults[name] = float64(d.Nanoseconds())/1e3, float64(faults)
		cfg.logf("idle %-9s first signal %.0fus (%d major faults), first reap %.0fus (%d major faults)",
			name, sigUs[name], int(sigFaults[name]), reapUs[name], int(reapFaults[name]))
	}

	// Right after a burst: what paging back in and the work itself leave.
	burstRSS, burstPSS := map[string]float64{}, map[string]float64{}
	for _, p := range probes {
		for range cfg.idleBurst {
			if _, err := p.signalRoundTrip(); err != nil {
				return nil, fmt.Errorf("%s: burst: %v", p.spec.Name, err)
			}
			if _, err := p.reapOne(); err != nil {
				return nil, fmt.Errorf("%s: burst: %v", p.spec.Name, err)
			}
		}
	}
	for _, p := range probes {
		m, err := memoryOf(p.pid)
		if err != nil {
			return nil, err
		}
		burstRSS[p.spec.Name], burstPSS[p.spec.Name] = float64(m.RSS), float64(m.PSS)
		cfg.logf("idle %-9s after a burst of %d signals and %d reaps: rss=%dKiB pss=%dKiB threads=%d",
			p.spec.Name, cfg.idleBurst, cfg.idleBurst, m.RSS, m.PSS, m.Threads)
	}

	load := load0 + " -> " + loadavg()
	win := fmt.Sprintf("%v", cfg.idleWindow)
	settled := fmt.Sprintf("after %v idle (pidone trims itself 1 s after start)", cfg.idleSettle+cfg.idleWindow)
	burst := fmt.Sprintf("right after %d forwarded signals and %d reaped orphans", cfg.idleBurst, cfg.idleBurst)
	return []row{
		{Group: "idle", Metric: "idle: RSS, settled", Unit: "KiB", Digits: 0, Values: rss,
			Target: target{Kind: "max", Limit: 1.4 * 1024, Text: "<= 1.4 MiB"}, Load: load,
			Note: "VmRSS " + settled + "; tini and dumb-init count the libc they share"},
		{Group: "idle", Metric: "idle: PSS, settled", Unit: "KiB", Digits: 0, Values: pss, Load: load,
			Note: "smaps_rollup Pss " + settled},
		{Group: "idle", Metric: "idle: RSS, after a burst", Unit: "KiB", Digits: 0, Values: burstRSS, Load: load,
			Note: "VmRSS " + burst},
		{Group: "idle", Metric: "idle: PSS, after a burst", Unit: "KiB", Digits: 0, Values: burstPSS, Load: load,
			Note: "smaps_rollup Pss " + burst},
		{Group: "idle", Metric: "idle: threads", Unit: "count", Digits: 0, Values: threads, Load: load,
			Target: target{Kind: "max", Limit: 8}, Note: "each accounted for in docs/performance.md"},
		{Group: "idle", Metric: "idle: wake-ups in " + win, Unit: "count", Digits: 0, Values: wake,
			Target: target{Kind: "max", Limit: 0}, Load: load,
			Note: "voluntary+involuntary context switches, all threads, after " + cfg.idleSettle.String() + " settling"},
		{Group: "idle", Metric: "idle: first signal round trip after idle", Unit: "us", Digits: 0, Values: sigUs, Load: load,
			Note: "one sample per init: kill to the child's answer, as in the latency rows"},
		{Group: "idle", Metric: "idle: major faults of that signal", Unit: "count", Digits: 0, Values: sigFaults, Load: load,
			Note: "pages of the init read back from the file"},
		{Group: "idle", Metric: "idle: first orphan reaped after idle", Unit: "us", Digits: 0, Values: reapUs, Load: load,
			Note: "one sample per init: from the harness's request to the init's children list without the orphan"},
		{Group: "idle", Metric: "idle: major faults of that reap", Unit: "count", Digits: 0, Values: reapFaults, Load: load,
			Note: "pages of the init read back from the file"},
	}, nil
}

// firstAfterIdle runs one probe and counts the init's major faults during it.
func (p *idleProbe) firstAfterIdle(probe func() (time.Duration, error)) (time.Duration, int64, error) {
	f0, err := majorFaults(p.pid)
	if err != nil {
		return 0, 0, err
	}
	d, err := probe()
	if err != nil {
		return 0, 0, err
	}
	f1, err := majorFaults(p.pid)
	return d, f1 - f0, err
}

// signalRoundTrip sends SIGUSR1 to the init and waits for the child's
// answer, as the latency rows do.
func (p *idleProbe) signalRoundTrip() (time.Duration, error) {
	t0 := time.Now()
	if err := unix.Kill(p.pid, unix.SIGUSR1); err != nil {
		return 0, err
	}
	b, err := readByteWithin(p.out, 10*time.Second)
	if err != nil || b != 'x' {
		return 0, fmt.Errorf("no answer to SIGUSR1 (read %q, %v)", b, err)
	}
	return time.Since(t0), nil
}

// reapOne has the child make one orphan (SIGUSR2, sent to the child
// directly) and waits until the init has reaped it: until the init's only
// child is benchkid again. The poll reads /proc as fast as it can.
func (p *idleProbe) reapOne() (time.Duration, error) {
	t0 := time.Now()
	if err := unix.Kill(p.kid, unix.SIGUSR2); err != nil {
		return 0, err
	}
	b, err := readByteWithin(p.out, 10*time.Second)
	if err != nil || b != 'o' {
		return 0, fmt.Errorf("no orphan made (read %q, %v)", b, err)
	}
	buf := make([]byte, 0, 4096)
	deadline := t0.Add(10 * time.Second)
	for {
		var n int
		n, buf = childCount(p.pid, buf)
		if n == 1 {
			return time.Since(t0), nil
		}
		if n < 0 {
			return 0, fmt.Errorf("the init exited")
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("orphan not reaped after 10 s")
		}
	}
}

// onlyChild returns the host pid of pid's one child.
func onlyChild(pid int) (int, error) {
	tids, err := tasks(pid)
	if err != nil {
		return 0, err
	}
	var kids []string
	for _, tid := range tids {
		b, err := readFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, tid))
		if err != nil {
			continue
		}
		kids = append(kids, strings.Fields(b)...)
	}
	if len(kids) != 1 {
		return 0, fmt.Errorf("want one child, found %v", kids)
	}
	return strconv.Atoi(kids[0])
}

// majorFaults is pid's count of major page faults, all threads
// (/proc/PID/stat field 12).
func majorFaults(pid int) (int64, error) {
	b, err := readFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; count after its ")".
	i := strings.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(b[i+1:])
	if len(f) < 10 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseInt(f[9], 10, 64) // field 12, the 10th after the name
}
