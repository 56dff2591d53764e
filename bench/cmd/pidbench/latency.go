package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// latencyWarmup is how many round trips per init go unrecorded first.
const latencyWarmup = 10

// probe is one init running benchkid echo.
// latencyRows measures the signal round trip: the harness, outside the PID
// namespace, sends SIGUSR1 to the init's host pid; the init forwards it to
// its child's process group; the child (benchkid echo, which takes the
// signal synchronously) writes one byte to its stdout pipe, which the
// harness reads. All inits run at once and the round trips are interleaved
// one by one, in rotating order, with a random 0.5-1.5 ms pause between
// two, so each signal finds its init idle.
func latencyRows(cfg *config, inits []initSpec) ([]row, error) {
	load0 := loadavg()

	probes, stop, err := startAll(cfg, "latency", inits, "echo")
	defer stop()
	if err != nil {
		return nil, err
	}
	// Past pidone's trim (internal/trim: 1 s after its child started, if
	// quiet), then a few unrecorded rounds: this measures an init that has
	// been running a while. What the first signal after the trim costs is
	// an idle row.
	time.Sleep(1500 * time.Millisecond)

	// One thread does every send and read, so that the harness side of each
	// round trip costs the same for every init.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rtt := map[string][]float64{}
	for r := -latencyWarmup; r < cfg.latencyRounds; r++ {
		for _, p := range rotate(probes, max(r, 0)) {
			time.Sleep(time.Duration(500+rand.IntN(1000)) * time.Microsecond)
			t0 := time.Now()
			if err := unix.Kill(p.pid, unix.SIGUSR1); err != nil {
				return nil, fmt.Errorf("%s: kill: %v", p.spec.Name, err)
			}
			b, err := readByteWithin(p.out, 10*time.Second)
			d := time.Since(t0)
			if err != nil || b != 'x' {
				return nil, fmt.Errorf("%s: no answer to SIGUSR1 (read %q, %v)", p.spec.Name, b, err)
			}
			if r >= 0 {
				rtt[p.spec.Name] = append(rtt[p.spec.Name], float64(d.Nanoseconds())/1e3)
			}
		}
	}
	load := load0 + " -> " + loadavg()
	p50, p99 := map[string]float64{}, map[string]float64{}
	for name, xs := range rtt {
		p50[name], p99[name] = percentile(xs, 50), percentile(xs, 99)
		cfg.logf("latency %-9s n=%d p50=%.1fus p90=%.1fus p99=%.1fus max=%.1fus", name, len(xs),
			p50[name], percentile(xs, 90), p99[name], percentile(xs, 100))
	}
	note := fmt.Sprintf("%d round trips per init, interleaved, after %d unrecorded ones", cfg.latencyRounds, latencyWarmup)
	return []row{
		{Group: "latency", Metric: "signal round trip p50", Unit: "us", Digits: 1, Values: p50,
			Target: target{Kind: "peer", Peer: "tini", Limit: 1.15}, Load: load, Note: note + "; target for a quiet machine"},
		{Group: "latency", Metric: "signal round trip p99", Unit: "us", Digits: 1, Values: p99,
			Target: target{Kind: "peer", Peer: "tini", Limit: 1.25}, Load: load, Note: note + "; target for a quiet machine"},
	}, nil
}
