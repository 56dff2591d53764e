package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// startupRows measures `init -- /bin/true` from fork to reaped, each run as
// PID 1 of a fresh PID namespace, against /bin/true alone started the same
// way; the overhead is the difference of the medians. Rounds interleave the
// inits, the floors and the baseline in rotating order. The last row is
// each init's overhead over minexact's, the floor of the design, in the
// same run (issue 19's target: pidone <= 1.3x).
func startupRows(cfg *config, inits, floors []initSpec) ([]row, error) {
	load0 := loadavg()
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	defer unix.Close(null)
	const truePath = "/bin/true"
	specs := append(append([]initSpec{{Name: "baseline", Path: truePath}}, inits...), floors...)
	argv := func(s initSpec) []string {
		if s.Name == "baseline" {
			return []string{truePath}
		}
		return s.argv(truePath)
	}
	walls := map[string][]float64{}
	for r := range cfg.startupRounds {
		for _, s := range rotate(specs, r) {
			t0 := time.Now()
			pid, err := startInNewPIDNS(argv(s), null, null, null)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", s.Name, err)
			}
			ws, err := wait(pid)
			d := time.Since(t0)
			if err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
				return nil, fmt.Errorf("%s -- /bin/true: status %v, %v", s.Name, ws, err)
			}
			walls[s.Name] = append(walls[s.Name], float64(d.Nanoseconds())/1e6)
		}
	}
	load := load0 + " -> " + loadavg()
	base := median(walls["baseline"])
	over, wall := map[string]float64{}, map[string]float64{}
	for _, s := range append(inits[:len(inits):len(inits)], floors...) {
		wall[s.Name] = median(walls[s.Name])
		over[s.Name] = wall[s.Name] - base
		cfg.logf("startup %-9s median=%.3fms p10=%.3fms p90=%.3fms overhead=%.3fms", s.Name, wall[s.Name],
			percentile(walls[s.Name], 10), percentile(walls[s.Name], 90), over[s.Name])
	}
	cfg.logf("startup baseline  median=%.3fms p10=%.3fms p90=%.3fms", base,
		percentile(walls["baseline"], 10), percentile(walls["baseline"], 90))
	note := fmt.Sprintf("median of %d runs each; /bin/true alone: %.3f ms", cfg.startupRounds, base)
	rows := []row{
		{Group: "startup", Metric: "start-up: init -- /bin/true, minus /bin/true", Unit: "ms", Digits: 3,
			Values: over, Target: target{Kind: "peer", Peer: "tini", Limit: 2.5}, Load: load, Note: note},
		{Group: "startup", Metric: "start-up: init -- /bin/true, wall", Unit: "ms", Digits: 3,
			Values: wall, Load: load, Note: "fork to reaped, fresh PID namespace"},
	}
	if floor, ok := over["minexact"]; ok && floor > 0 {
		toFloor := map[string]float64{}
		for _, s := range inits {
			toFloor[s.Name] = over[s.Name] / floor
		}
		rows = append(rows, row{Group: "startup", Metric: "start-up overhead over minexact's", Unit: "x", Digits: 2,
			Values: toFloor, Target: target{Kind: "max", Limit: 1.3}, Load: load, NoRatio: true,
			Note: fmt.Sprintf("minexact (the design's floor: entry, registrations, plain fork) %.3f ms, same run", floor)})
	}
	return rows, nil
}
