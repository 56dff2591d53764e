package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// notPID1Rows measures `init -- /bin/true` run as a plain process, not PID
// 1 (a CI runner's wrapper, a container in a pod that shares its PID
// namespace): fork to reaped, wall and CPU (the init's and /bin/true's, from
// wait4's rusage), with a number of idle processes elsewhere on the host
// (issue 19, item 4). An init that walks every /proc entry to find its
// descendants when it leaves pays for each of them. pidone becomes a child
// subreaper by itself; tini is told to with -s. The floors (benchkid's
// minexact and mininit, which walk nothing) run beside them: what is left
// of pidone's figure over tini's once the walk no longer depends on the
// host is the start-up of a Go init, and the floors show how much of it no
// Go init avoids. Rounds interleave the inits in rotating order.
func notPID1Rows(cfg *config, inits, floors []initSpec) ([]row, error) {
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	defer unix.Close(null)
	specs := []initSpec{{Name: "tini", Path: "/usr/bin/tini", Args: []string{"-s", "--"}}}
	for _, in := range inits {
		if strings.HasPrefix(in.Name, "pidone") {
			specs = append(specs, in)
		}
	}
	specs = append(specs, floors...)
	var rows []row
	for _, idlers := range []int{100, 2000} {
		stop, err := startIdlers(idlers)
		if err != nil {
			return nil, err
		}
		host := hostProcesses()
		load0 := loadavg()
		walls, cpus := map[string][]float64{}, map[string][]float64{}
		for r := range cfg.notPID1Rounds {
			for _, s := range rotate(specs, r) {
				wall, cpu, err := runNotPID1(s.argv("/bin/true"), null)
				if err != nil {
					stop()
					return nil, fmt.Errorf("%s -- /bin/true: %v", s.Name, err)
				}
				walls[s.Name] = append(walls[s.Name], wall)
				cpus[s.Name] = append(cpus[s.Name], cpu)
			}
		}
		stop()
		load := load0 + " -> " + loadavg()
		wall, cpu := map[string]float64{}, map[string]float64{}
		for _, s := range specs {
			wall[s.Name], cpu[s.Name] = median(walls[s.Name]), median(cpus[s.Name])
			cfg.logf("not PID 1, %d idle: %-14s wall median=%.3fms p90=%.3fms  cpu median=%.3fms p90=%.3fms", idlers, s.Name,
				wall[s.Name], percentile(walls[s.Name], 90), cpu[s.Name], percentile(cpus[s.Name], 90))
		}
		note := fmt.Sprintf("median of %d runs each; %d processes on the host while measured; tini with -s", cfg.notPID1Rounds, host)
		rows = append(rows,
			row{Group: "notpid1", Metric: fmt.Sprintf("not PID 1: init -- /bin/true, %d idle processes, wall", idlers), Unit: "ms", Digits: 3,
				Values: wall, Target: target{Kind: "peer", Peer: "tini", Limit: 1.5}, Load: load, Note: note},
			row{Group: "notpid1", Metric: fmt.Sprintf("not PID 1: init -- /bin/true, %d idle processes, CPU", idlers), Unit: "ms", Digits: 3,
				Values: cpu, Target: target{Kind: "peer", Peer: "tini", Limit: 1.5}, Load: load, Note: note})
	}
	return rows, nil
}

// runNotPID1 runs argv as a child of the harness, in a process group of
// its own, and returns its wall time (fork to reaped) and CPU time (user
// and system, with its waited-for children's) in milliseconds.
func runNotPID1(argv []string, null int) (wall, cpu float64, err error) {
	t0 := time.Now()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{uintptr(null), uintptr(null), uintptr(null)},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return 0, 0, err
	}
	var ws unix.WaitStatus
	var ru unix.Rusage
	for {
		_, err = unix.Wait4(pid, &ws, 0, &ru)
		if err != unix.EINTR {
			break
		}
	}
	d := time.Since(t0)
	if err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		return 0, 0, fmt.Errorf("status %v, %v", ws, err)
	}
	cpuTime := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return float64(d.Nanoseconds()) / 1e6, float64(cpuTime.Nanoseconds()) / 1e6, nil
}

// startIdlers starts n sleeping processes in a process group of their own,
// children of the harness (not of any init under test), and returns the
// function that kills and reaps them.
func startIdlers(n int) (stop func(), err error) {
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	defer unix.Close(null)
	pgid := 0
	stop = func() {
		if pgid == 0 {
			return
		}
		_ = unix.Kill(-pgid, unix.SIGKILL)
		for {
			var ws unix.WaitStatus
			if _, err := unix.Wait4(-pgid, &ws, 0, nil); err != nil && err != unix.EINTR {
				return // ECHILD: all reaped
			}
		}
	}
	for i := 0; i < n; i++ {
		pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "3600"}, &syscall.ProcAttr{
			Files: []uintptr{uintptr(null), uintptr(null), uintptr(null)},
			Sys:   &syscall.SysProcAttr{Setpgid: true, Pgid: pgid, Pdeathsig: syscall.SIGKILL},
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("idle process %d of %d: %v", i+1, n, err)
		}
		if pgid == 0 {
			pgid = pid
		}
	}
	return stop, nil
}

// hostProcesses counts the processes /proc shows.
func hostProcesses() int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}
