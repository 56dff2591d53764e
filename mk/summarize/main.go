// Command summarize runs `make test`'s tiers one after another and prints
// one line per tier (tests passed, failed and skipped, and the time), every
// skip with its reason, and, only for a tier that failed, its failing
// tests' output and the tail of its log. The last line is the total alone,
// "N passed, N failed, N skipped", which CI reads; before it, the ten
// slowest tests of the run, the first candidates for making the tiers
// cheaper. A line a tier prints to say it installs a system package
// ("installing Debian package ...", the Makefile's apt_install) is shown at
// once, before the package is installed. Every tier's full output goes to
// LOGDIR/TIER.log.
//
//	summarize [-log-dir bin] [-make make] TIER...
//
// Each tier is `make TIER GOTESTFLAGS=-json`: a tier that hands
// $(GOTESTFLAGS) to go test reports every test as a JSON event (go help
// test, -json), from which the counts come and the log is written back as
// plain `go test -v` text. A tier that reports no test (vet) counts as one
// check, passed or failed by its exit status, and one that prints
// "##### NAME SKIPPED: reason" (docker-test without an engine) as one skip.
// summarize exits 1 if any tier failed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

func main() {
	logDir := flag.String("log-dir", "bin", "directory for the tiers' logs (TIER.log)")
	makeCmd := flag.String("make", "make", "the make program that runs a tier")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: summarize [-log-dir DIR] [-make MAKE] TIER...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	failed, err := run(os.Stdout, *logDir, flag.Args(), func(tier string) *exec.Cmd {
		return exec.Command(*makeCmd, "--no-print-directory", tier, "GOTESTFLAGS=-json")
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "summarize: %v\n", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// run runs every tier, whatever the ones before did, writes each one's
// report and then the total line to w, and says whether any tier failed.
func run(w io.Writer, logDir string, tiers []string, command func(tier string) *exec.Cmd) (failed bool, err error) {
	var total counts
	var tests []outcome
	for _, tier := range tiers {
		r, err := runTier(tier, filepath.Join(logDir, tier+".log"), command(tier), w)
		if err != nil {
			return true, fmt.Errorf("%s: %w", tier, err)
		}
		io.WriteString(w, r.report())
		total.add(r.counts)
		failed = failed || r.failed()
		tests = append(tests, r.topLevel...)
	}
	io.WriteString(w, slowestReport(tests, slowestShown))
	fmt.Fprintln(w, total.String())
	return failed, nil
}

// slowestShown is how many of the slowest tests the summary lists.
const slowestShown = 10

// slowestReport lists the n slowest of tests, slowest first, with their
// time as go test measured it (a parallel test's wait for its turn left
// out); "" when no test took any time.
func slowestReport(tests []outcome, n int) string {
	tests = slices.Clone(tests)
	slices.SortStableFunc(tests, func(a, b outcome) int {
		switch {
		case a.elapsed > b.elapsed:
			return -1
		case a.elapsed < b.elapsed:
			return 1
		}
		return 0
	})
	shown := 0
	for shown < min(n, len(tests)) && tests[shown].elapsed > 0 {
		shown++
	}
	if shown == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("slowest tests:\n")
	for _, o := range tests[:shown] {
		fmt.Fprintf(&b, "    %7.1fs  %s\n", o.elapsed, o.name)
	}
	return b.String()
}

// counts are a tier's (or the run's) results.
type counts struct{ passed, failed, skipped int }

func (c *counts) add(o counts) {
	c.passed += o.passed
	c.failed += o.failed
	c.skipped += o.skipped
}

// String is the total line CI reads: "N passed, N failed, N skipped".
func (c counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.passed, c.failed, c.skipped)
}

// event is one line of `go test -json` (cmd/test2json), build events
// included.
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	Elapsed     float64
	ImportPath  string // build-output and build-fail
	FailedBuild string // a package's fail when its test binary did not build
}

// outcome is one test's (or failed package's) result and its own output.
type outcome struct {
	name    string // "pkg TestX/sub", or "pkg" for a package-level failure
	action  string // pass, fail, skip
	elapsed float64
	output  []string
}

// Kept per test and for the log's tail: enough to see why, small enough
// to print.
const (
	keepLines = 40
	tailLines = 20
	maxShown  = 10 // failing tests shown in full
)

// installMarker starts the line apt_install (Makefile) prints before it
// installs a package; summarize shows it as it comes.
const installMarker = "installing Debian package"

// skipMarker is the line a tier prints when it skips itself entirely
// (mk/docker.mk, without a Docker engine).
var skipMarker = regexp.MustCompile(`^##### (\S+) SKIPPED: (.*?)(?: #####)?$`)

// tierResult is what one tier did.
type tierResult struct {
	tier     string
	logPath  string
	elapsed  time.Duration
	exitCode int
	counts
	outcomes []outcome // counted tests, in the order they finished
	topLevel []outcome // the tests that are not subtests, for the slowest
	tail     []string  // the log's last lines
	selfSkip string    // the tier's skip marker reason, if it printed one
}

func (r *tierResult) failed() bool { return r.exitCode != 0 || r.counts.failed > 0 }

// collector turns a tier's output, line by line, into a log and results.
type collector struct {
	log      io.Writer
	announce io.Writer // where installMarker lines are shown at once, or nil
	tier     string
	output   map[string][]string // test key -> its last output lines
	pkgOut   map[string][]string // package or build -> its own output lines
	results  []outcome
	tail     []string
	selfSkip string
}

func newCollector(log io.Writer) *collector {
	return &collector{log: log, output: map[string][]string{}, pkgOut: map[string][]string{}}
}

// line takes one line of the tier's output (without its newline).
func (c *collector) line(s string) {
	var e event
	if strings.HasPrefix(s, "{") && json.Unmarshal([]byte(s), &e) == nil && e.Action != "" {
		c.event(e)
		return
	}
	if m := skipMarker.FindStringSubmatch(s); m != nil {
		c.selfSkip = m[2]
	}
	if c.announce != nil && strings.HasPrefix(s, installMarker) {
		fmt.Fprintf(c.announce, "%-14s %s\n", c.tier, s)
	}
	c.write(s + "\n")
}

func (c *collector) write(text string) {
	io.WriteString(c.log, text)
	for _, l := range strings.SplitAfter(text, "\n") {
		if l != "" {
			c.tail = keepLast(append(c.tail, strings.TrimSuffix(l, "\n")), tailLines)
		}
	}
}

func (c *collector) event(e event) {
	key := e.Package + " " + e.Test
	switch e.Action {
	case "output", "build-output":
		c.write(e.Output)
		out := strings.TrimSuffix(e.Output, "\n")
		switch {
		case e.Test != "":
			c.output[key] = keepLast(append(c.output[key], out), keepLines)
		case e.ImportPath != "":
			c.pkgOut[e.ImportPath] = keepLast(append(c.pkgOut[e.ImportPath], out), keepLines)
		default:
			c.pkgOut[e.Package] = keepLast(append(c.pkgOut[e.Package], out), keepLines)
		}
	case "pass", "fail", "skip":
		if e.Test != "" {
			c.results = append(c.results, outcome{name: key, action: e.Action, elapsed: e.Elapsed, output: c.output[key]})
			delete(c.output, key)
			return
		}
		// A package that failed with no failing test of its own: its test
		// binary did not build, or it died outside any test (a panic in
		// TestMain, the -timeout panic). That is one failure too.
		if e.Action == "fail" && !c.hasFailure(e.Package) {
			out := c.pkgOut[e.Package]
			if e.FailedBuild != "" {
				out = append(slices.Clone(c.pkgOut[e.FailedBuild]), out...)
			}
			c.results = append(c.results, outcome{name: e.Package, action: "fail", elapsed: e.Elapsed, output: out})
		}
	}
}

func (c *collector) hasFailure(pkg string) bool {
	for _, o := range c.results {
		if o.action == "fail" && strings.HasPrefix(o.name, pkg+" ") {
			return true
		}
	}
	return false
}

// counted returns the outcomes that count: tests without subtests, and a
// parent that failed on its own (none of its subtests failed). A parent
// test otherwise only repeats what its subtests said.
func counted(all []outcome) []outcome {
	var out []outcome
	for _, o := range all {
		parent, childFailed := false, false
		for _, d := range all {
			if strings.HasPrefix(d.name, o.name+"/") {
				parent = true
				childFailed = childFailed || d.action == "fail"
			}
		}
		if !parent || o.action == "fail" && !childFailed {
			out = append(out, o)
		}
	}
	return out
}

// finish turns what was collected and the tier's exit status into its result.
func (c *collector) finish(r *tierResult) {
	r.outcomes = counted(c.results)
	r.topLevel = topLevel(c.results)
	r.tail = c.tail
	r.selfSkip = c.selfSkip
	for _, o := range r.outcomes {
		switch o.action {
		case "pass":
			r.passed++
		case "fail":
			r.counts.failed++
		case "skip":
			r.skipped++
		}
	}
	switch {
	case r.exitCode != 0 && r.counts.failed == 0:
		// Failed before or outside any test: vet, a build, a recipe.
		r.counts.failed++
	case len(r.outcomes) == 0 && r.selfSkip != "":
		r.skipped++
	case len(r.outcomes) == 0:
		r.passed++ // a tier of checks without tests (vet)
	}
}

// topLevel returns the tests that are not subtests, each with the longest
// time of itself and its subtests: a test whose subtests run in parallel
// returns before they do, and go test gives it only its own time.
func topLevel(all []outcome) []outcome {
	var tops []outcome
	at := map[string]int{}
	for _, o := range all {
		pkg, test, ok := strings.Cut(o.name, " ")
		if !ok {
			continue // a package's own failure
		}
		top, _, _ := strings.Cut(test, "/")
		i, seen := at[pkg+" "+top]
		if !seen {
			i = len(tops)
			at[pkg+" "+top] = i
			tops = append(tops, outcome{name: pkg + " " + top})
		}
		if o.name == tops[i].name {
			tops[i].action, tops[i].output = o.action, o.output
		}
		tops[i].elapsed = max(tops[i].elapsed, o.elapsed)
	}
	return tops
}

// runTier runs cmd with its output going to logPath and the collector,
// and its installMarker lines to announce.
func runTier(tier, logPath string, cmd *exec.Cmd, announce io.Writer) (*tierResult, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	logBuf := bufio.NewWriter(logFile)
	defer logBuf.Flush()

	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	r := &tierResult{tier: tier, logPath: logPath}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	pw.Close() // the child holds the write end now; EOF when it and its children are done
	c := newCollector(logBuf)
	c.tier, c.announce = tier, announce
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		c.line(sc.Text())
	}
	pr.Close()
	err = cmd.Wait()
	r.elapsed = time.Since(start)
	if sc.Err() != nil {
		c.line("summarize: reading the output: " + sc.Err().Error())
		r.exitCode = 1
	}
	if err != nil {
		r.exitCode = 1
		if ee, ok := err.(*exec.ExitError); ok {
			r.exitCode = ee.ExitCode()
		}
	}
	c.finish(r)
	return r, nil
}

// report is what the terminal shows for the tier: its line, its skips
// and, when it failed, what failed and the log's tail.
func (r *tierResult) report() string {
	var b strings.Builder
	status := "ok"
	switch {
	case r.failed():
		status = "FAIL"
	case r.passed == 0 && r.skipped > 0:
		status = "SKIP"
	}
	fmt.Fprintf(&b, "%-14s %-4s  %s  (%s, log %s)\n", r.tier, status, r.counts.String(), r.elapsed.Round(100*time.Millisecond), r.logPath)
	if r.selfSkip != "" {
		fmt.Fprintf(&b, "    SKIP the whole tier: %s\n", r.selfSkip)
	}
	for _, s := range skipReasons(r.outcomes) {
		fmt.Fprintf(&b, "    SKIP %s: %s\n", s.tests, s.reason)
	}
	if !r.failed() {
		return b.String()
	}
	shown := 0
	for _, o := range r.outcomes {
		if o.action != "fail" {
			continue
		}
		if shown++; shown > maxShown {
			continue
		}
		fmt.Fprintf(&b, "    --- FAIL %s (%.2fs)\n", o.name, o.elapsed)
		for _, l := range o.output {
			fmt.Fprintf(&b, "        %s\n", l)
		}
	}
	if shown > maxShown {
		fmt.Fprintf(&b, "    ... and %d more failures (in %s)\n", shown-maxShown, r.logPath)
	}
	if r.exitCode != 0 {
		fmt.Fprintf(&b, "    make %s exited with status %d; the last lines of %s:\n", r.tier, r.exitCode, r.logPath)
	} else {
		fmt.Fprintf(&b, "    the last lines of %s:\n", r.logPath)
	}
	for _, l := range r.tail {
		fmt.Fprintf(&b, "    | %s\n", l)
	}
	return b.String()
}

// skip is one reason and the tests it skipped.
type skip struct{ reason, tests string }

// skipReasons groups the skipped tests by what they said when they
// skipped, so a missing peer is one line, not thirty.
func skipReasons(outcomes []outcome) []skip {
	var order []string
	tests := map[string][]string{}
	for _, o := range outcomes {
		if o.action != "skip" {
			continue
		}
		var said []string
		for _, l := range o.output {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
				continue
			}
			said = append(said, l)
		}
		reason := strings.Join(said, " / ")
		if reason == "" {
			reason = "(the test gave no reason)"
		}
		if _, ok := tests[reason]; !ok {
			order = append(order, reason)
		}
		_, name, _ := strings.Cut(o.name, " ")
		tests[reason] = append(tests[reason], name)
	}
	var out []skip
	for _, reason := range order {
		names := tests[reason]
		list := strings.Join(names, ", ")
		if len(names) > 4 {
			list = fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
		}
		out = append(out, skip{reason: reason, tests: list})
	}
	return out
}

func keepLast(lines []string, n int) []string {
	if len(lines) > n {
		return slices.Clone(lines[len(lines)-n:])
	}
	return lines
}
