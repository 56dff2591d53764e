package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"golang.org/x/sys/unix"
)

// reportRows measures how long an init takes to exit once its main child
// has died leaving 0, 100 or 1,000 processes that die on SIGTERM (issue
// 21): from the main child's last clock reading (`workload swarm -stamp`,
// CLOCK_MONOTONIC just before its exit) to the harness reaping the init,
// PID 1 of a fresh PID namespace, whose exit waits until the namespace is
// empty. pidone runs without and with --exit-report (a file in the output
// directory, written, fsynced and renamed as users get it); the peers,
// which write no report, run beside it with the same leftovers: tini and
// catatonit exit at once and the kernel kills the rest, dumb-init sends
// SIGTERM to the child's group and exits. Rounds interleave every run in
// rotating order; the report's cost is the median of each round's
// difference (with minus without), so that a change of load between
// rounds cancels out.
func reportRows(cfg *config, inits []initSpec) ([]row, error) {
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	defer unix.Close(null)
	dir := filepath.Join(cfg.out, "exit-report")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "report.json")
	type spec struct {
		initSpec
		report bool
		key    string
	}
	var specs []spec
	for _, in := range inits {
		specs = append(specs, spec{in, false, in.Name})
		if isSubject(in.Name) {
			with := in
			with.Args = append([]string{"--exit-report", path}, in.Args...)
			specs = append(specs, spec{with, true, in.Name + " --exit-report"})
		}
	}
	var rows []row
	for _, n := range []int{0, 100, 1000} {
		load0 := loadavg()
		times := map[string][]float64{}
		for r := range cfg.reportRounds {
			for _, s := range rotate(specs, r) {
				ms, err := exitAfterMain(s.argv(cfg.workload, "swarm", "-n", strconv.Itoa(n), "-stamp"), null)
				if err != nil {
					return nil, fmt.Errorf("%s, %d leftovers: %v", s.key, n, err)
				}
				times[s.key] = append(times[s.key], ms)
			}
		}
		load := load0 + " -> " + loadavg()
		without, with, cost := map[string]float64{}, map[string]float64{}, map[string]float64{}
		for _, s := range specs {
			m := median(times[s.key])
			cfg.logf("report, %4d leftovers: %-24s median=%.3fms p10=%.3fms p90=%.3fms", n, s.key, m,
				percentile(times[s.key], 10), percentile(times[s.key], 90))
			if s.report {
				with[s.Name] = m
			} else {
				without[s.Name] = m
			}
		}
		for _, s := range specs {
			if !s.report {
				continue
			}
			base, diffs := times[s.Name], []float64{}
			for i, w := range times[s.key] {
				diffs = append(diffs, w-base[i])
			}
			cost[s.Name] = median(diffs)
			cfg.logf("report, %4d leftovers: %-24s cost median=%.3fms p10=%.3fms p90=%.3fms", n, s.key, cost[s.Name],
				percentile(diffs, 10), percentile(diffs, 90))
		}
		note := fmt.Sprintf("median of %d runs each; main child's exit to the init reaped, PID 1 of a fresh PID namespace", cfg.reportRounds)
		costTarget := target{}
		if n == 100 {
			costTarget = target{Kind: "max", Limit: 5}
		}
		rows = append(rows,
			row{Group: "report", Metric: fmt.Sprintf("exit after the main child, %d leftovers that die on TERM", n), Unit: "ms", Digits: 3,
				Values: without, Load: load, Note: note + "; the peers stop nothing but the kernel's kill at PID 1's exit (dumb-init: SIGTERM to the group)"},
			row{Group: "report", Metric: fmt.Sprintf("the same, with --exit-report, %d leftovers", n), Unit: "ms", Digits: 3,
				Values: with, Load: load, NoRatio: true, Note: "the report written to a file in the output directory: fsync and rename included"},
			row{Group: "report", Metric: fmt.Sprintf("--exit-report's cost, %d leftovers", n), Unit: "ms", Digits: 3,
				Values: cost, Load: load, NoRatio: true, Target: costTarget, Note: "median of each round's with minus without"})
	}
	return rows, nil
}

var monoStamp = regexp.MustCompile(`ready mono=(\d+)`)

// exitAfterMain runs argv (an init over `workload swarm -stamp`) as PID 1
// of a fresh PID namespace and returns the milliseconds from the main
// child's stamp to the init reaped.
func exitAfterMain(argv []string, null int) (float64, error) {
	r, w, err := pipe()
	if err != nil {
		return 0, err
	}
	defer unix.Close(r)
	pid, err := startInNewPIDNS(argv, null, w, null)
	unix.Close(w)
	if err != nil {
		return 0, err
	}
	ws, err := wait(pid)
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	if err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		return 0, fmt.Errorf("status %v, %v", ws, err)
	}
	// Everything in the namespace is gone once PID 1 is reaped: the
	// line, and EOF, are there.
	var out []byte
	buf := make([]byte, 4096)
	for {
		k, err := unix.Read(r, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("read", err)
		}
		if k == 0 {
			break
		}
		out = append(out, buf[:k]...)
	}
	m := monoStamp.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no stamp from the main child in %q", out)
	}
	stamp, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return float64(ts.Nano()-stamp) / 1e6, nil
}
