package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// idleRows runs every init at once over a child that sleeps in pause(2) and
// never wakes, lets them settle, then counts the context switches of all of
// each init's threads over cfg.idleWindow: every one is a wake-up of the
// init. Memory and threads are read at the end of the window.
func idleRows(cfg *config, inits []initSpec) ([]row, error) {
	load0 := loadavg()
	logFd, err := cfg.logFile("idle")
	if err != nil {
		return nil, err
	}
	defer unix.Close(logFd)
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	defer unix.Close(null)

	pids := map[string]int{}
	defer func() {
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
			wait(pid)
		}
	}()
	for _, in := range inits {
		r, w, err := pipe()
		if err != nil {
			return nil, err
		}
		pid, err := startInNewPIDNS(in.argv(cfg.benchkid, "hang"), null, w, logFd)
		unix.Close(w)
		if err != nil {
			unix.Close(r)
			return nil, fmt.Errorf("%s: %v", in.Name, err)
		}
		pids[in.Name] = pid
		err = awaitReady(r, 10*time.Second)
		unix.Close(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", in.Name, err)
		}
	}
	time.Sleep(cfg.idleSettle)
	before := map[string]int64{}
	for name, pid := range pids {
		if before[name], err = ctxSwitches(pid); err != nil {
			return nil, err
		}
	}
	time.Sleep(cfg.idleWindow)
	wake, rss, pss, threads := map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
	for name, pid := range pids {
		after, err := ctxSwitches(pid)
		if err != nil {
			return nil, err
		}
		m, err := memoryOf(pid)
		if err != nil {
			return nil, err
		}
		wake[name] = float64(after - before[name])
		rss[name], pss[name], threads[name] = float64(m.RSS), float64(m.PSS), float64(m.Threads)
		cfg.logf("idle %-9s wakeups=%d rss=%dKiB pss=%dKiB threads=%d", name, after-before[name], m.RSS, m.PSS, m.Threads)
	}
	load := load0 + " -> " + loadavg()
	win := fmt.Sprintf("%v", cfg.idleWindow)
	return []row{
		{Group: "idle", Metric: "idle: RSS", Unit: "KiB", Digits: 0, Values: rss,
			Target: target{Kind: "max", Limit: 1536}, Load: load, Note: "VmRSS; tini and dumb-init count the libc they share"},
		{Group: "idle", Metric: "idle: PSS", Unit: "KiB", Digits: 0, Values: pss, Load: load,
			Note: "smaps_rollup Pss"},
		{Group: "idle", Metric: "idle: threads", Unit: "count", Digits: 0, Values: threads, Load: load,
			Target: target{Text: "fewest the runtime allows"}},
		{Group: "idle", Metric: "idle: wake-ups in " + win, Unit: "count", Digits: 0, Values: wake,
			Target: target{Kind: "max", Limit: 0}, Load: load,
			Note: "voluntary+involuntary context switches, all threads, after " + cfg.idleSettle.String() + " settling"},
	}, nil
}
