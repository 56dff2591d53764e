// Command pidbench measures pidone side by side with tini, dumb-init and
// catatonit, each run as PID 1 of a fresh PID namespace, and prints one table
// with pidone's ratio to the best peer (issue 6). `make bench` runs it; see
// docs/performance.md for what each figure means.
//
// Within every metric the inits are interleaved round-robin, in an order
// that rotates from round to round, so that a change of machine load hits
// all of them alike. The load average is recorded with every metric.
//
// Flags (the Makefile maps BENCH_QUICK=1 to -quick and BENCH_ONLY to -only):
//
//	-pidone PATH     pidone binary under test
//	-workload PATH   the e2e workload binary (orphan storm)
//	-benchkid PATH   bench/cmd/benchkid
//	-out DIR         where results.md, results.json, results.png and logs go
//	-quick           fewer repetitions: a smoke run of a minute or two
//	-only LIST       comma-separated metric groups: reaping, latency,
//	                 startup, idle, control, size, workers, listen, docker,
//	                 notpid1, report
//	-variant N=PATH  also measure another pidone build as "pidone-N", in
//	                 the same interleaved rounds (repeatable): before/after
//	                 figures for a change come from one run
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type config struct {
	pidone, workload, benchkid, out string
	quick                           bool
	only                            map[string]bool

	stormRounds, stormOrphans  int
	latencyRounds              int
	startupRounds              int
	earlyTrials                int
	idleSettle, idleWindow     time.Duration
	idleBurst                  int
	dockerRounds               int
	workerKills, workerReloads int
	dockerStopTimeout          int
	listenDuration             time.Duration
	listenReloads              int
	notPID1Rounds              int
	reportRounds               int

	log *os.File
}

func (c *config) want(group string) bool { return len(c.only) == 0 || c.only[group] }

// logf prints a progress line to stderr and to the run's log.
func (c *config) logf(format string, a ...any) {
	line := fmt.Sprintf(time.Now().Format("15:04:05 ")+format+"\n", a...)
	os.Stderr.WriteString(line)
	if c.log != nil {
		c.log.WriteString(line)
	}
}

// logFile opens the file that collects the stderr of every init run for one
// metric; an init that fails says why there.
func (c *config) logFile(metric string) (int, error) {
	return unix.Open(filepath.Join(c.out, "logs", metric+".stderr"),
		unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "pidbench: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := &config{}
	only := ""
	var variants []initSpec
	flag.Func("variant", "NAME=PATH: another pidone build to measure as pidone-NAME (repeatable)", func(v string) error {
		name, path, ok := strings.Cut(v, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("want NAME=PATH")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		s := pidoneSpec(abs)
		s.Name = "pidone-" + name
		variants = append(variants, s)
		return nil
	})
	flag.StringVar(&cfg.pidone, "pidone", "bin/pidone", "pidone binary under test")
	flag.StringVar(&cfg.workload, "workload", "bin/workload", "workload binary")
	flag.StringVar(&cfg.benchkid, "benchkid", "bin/benchkid", "benchkid binary")
	flag.StringVar(&cfg.out, "out", "bin/bench", "output directory")
	flag.BoolVar(&cfg.quick, "quick", false, "fewer repetitions (smoke run)")
	noProc := flag.Bool("no-procns", false, "start the inits without a /proc of their own")
	flag.StringVar(&only, "only", "", "comma-separated metric groups to run")
	overrides := map[string]struct{ dst, val *int }{}
	for name, dst := range map[string]*int{"storm-rounds": &cfg.stormRounds, "latency-rounds": &cfg.latencyRounds,
		"startup-rounds": &cfg.startupRounds, "docker-rounds": &cfg.dockerRounds, "early-rounds": &cfg.earlyTrials} {
		overrides[name] = struct{ dst, val *int }{dst, flag.Int(name, 0, "override the number of "+strings.TrimSuffix(name, "-rounds")+" rounds")}
	}
	flag.Parse()
	if only != "" {
		cfg.only = map[string]bool{}
		for _, g := range strings.Split(only, ",") {
			cfg.only[strings.TrimSpace(g)] = true
		}
	}
	if cfg.quick {
		cfg.stormRounds, cfg.stormOrphans = 1, 10000
		cfg.latencyRounds = 300
		cfg.startupRounds = 60
		cfg.earlyTrials = 100
		cfg.idleSettle, cfg.idleWindow, cfg.idleBurst = 2500*time.Millisecond, 5*time.Second, 50
		cfg.dockerRounds, cfg.dockerStopTimeout = 1, 10
		cfg.workerKills, cfg.workerReloads = 10, 2
		cfg.listenDuration, cfg.listenReloads = 10*time.Second, 5
		cfg.notPID1Rounds = 30
		cfg.reportRounds = 10
	} else {
		cfg.stormRounds, cfg.stormOrphans = 5, 10000
		cfg.latencyRounds = 2000
		cfg.startupRounds = 400
		cfg.earlyTrials = 1000
		cfg.idleSettle, cfg.idleWindow, cfg.idleBurst = 3*time.Second, 20*time.Second, 200
		cfg.dockerRounds, cfg.dockerStopTimeout = 3, 10
		cfg.workerKills, cfg.workerReloads = 40, 5
		cfg.listenDuration, cfg.listenReloads = 30*time.Second, 20
		cfg.notPID1Rounds = 100
		cfg.reportRounds = 40
	}
	flag.Visit(func(f *flag.Flag) {
		// Explicit repetition counts override -quick and the defaults.
		if n, ok := overrides[f.Name]; ok {
			*n.dst = *n.val
		}
	})
	for _, p := range []*string{&cfg.pidone, &cfg.workload, &cfg.benchkid, &cfg.out} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if !*noProc {
		procNS = cfg.benchkid
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root: every init runs as PID 1 of a new PID namespace and is read through /proc")
	}
	if err := os.MkdirAll(filepath.Join(cfg.out, "logs"), 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(cfg.out, "run.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cfg.log = logf

	inits := append(append(peers(), pidoneSpec(cfg.pidone)), variants...)
	for _, in := range inits {
		if _, err := os.Stat(in.Path); err != nil {
			return fmt.Errorf("%s: %v (make bench installs the Debian packages tini, dumb-init, catatonit)", in.Name, err)
		}
		// A binary just built has dirty pages until the kernel writes
		// them back, some 30 s later, and dirty pages cannot be paged
		// out: pidone's idle trim would not show.
		if err := writeBack(in.Path); err != nil {
			return fmt.Errorf("%s: %v", in.Name, err)
		}
	}
	floorSpecs, err := floors(cfg.benchkid, filepath.Join(cfg.out, "floors"))
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	start := time.Now()
	res := &results{Started: start.Format(time.RFC3339), Host: host, Quick: cfg.quick, Inits: append(inits[:len(inits):len(inits)], floorSpecs...),
		LoadAt: map[string]string{"start": loadavg()}, Cores: runtime.NumCPU()}
	cfg.logf("pidbench: pidone=%s quick=%v load=%s", cfg.pidone, cfg.quick, res.LoadAt["start"])

	type step struct {
		group string
		run   func() ([]row, error)
	}
	steps := []step{
		{"size", func() ([]row, error) { return sizeRows(inits) }},
		{"startup", func() ([]row, error) { return startupRows(cfg, inits, floorSpecs) }},
		{"early", func() ([]row, error) { return earlyRows(cfg, inits) }},
		{"latency", func() ([]row, error) { return latencyRows(cfg, inits) }},
		{"reaping", func() ([]row, error) { return stormRows(cfg, inits) }},
		{"idle", func() ([]row, error) { return idleRows(cfg, inits) }},
		{"control", func() ([]row, error) { return controlRows(cfg) }},
		{"workers", func() ([]row, error) { return workersRows(cfg, inits) }},
		{"listen", func() ([]row, error) { return listenRows(cfg) }},
		{"docker", func() ([]row, error) { return dockerRows(cfg) }},
		{"notpid1", func() ([]row, error) { return notPID1Rows(cfg, inits, floorSpecs) }},
		{"report", func() ([]row, error) { return reportRows(cfg, inits) }},
	}
	for _, s := range steps {
		if !cfg.want(s.group) {
			continue
		}
		cfg.logf("== %s (load %s)", s.group, loadavg())
		rows, err := s.run()
		if err != nil {
			return fmt.Errorf("%s: %w", s.group, err)
		}
		res.Rows = append(res.Rows, rows...)
	}
	res.LoadAt["end"] = loadavg()
	res.Duration = time.Since(start).Round(time.Second).String()

	res.text(os.Stdout)
	return res.write(cfg.out)
}

// writeBack writes path's dirty pages to disk (fsync).
func writeBack(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// write saves results.md, results.json and results.png in dir.
func (res *results) write(dir string) error {
	md, err := os.Create(filepath.Join(dir, "results.md"))
	if err != nil {
		return err
	}
	res.markdown(md)
	if err := md.Close(); err != nil {
		return err
	}
	js, err := os.Create(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	if err := res.json(js); err != nil {
		return err
	}
	if err := js.Close(); err != nil {
		return err
	}
	png, err := os.Create(filepath.Join(dir, "results.png"))
	if err != nil {
		return err
	}
	if err := res.chart(png); err != nil {
		return err
	}
	if err := png.Close(); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s/results.{md,json,png}\n", dir)
	return nil
}
