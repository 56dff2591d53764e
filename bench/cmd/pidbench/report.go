package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// target is what pidone's figure in a row is held to.
type target struct {
	// Kind is "best" (ratio to the best peer <= Limit), "peer" (ratio to
	// Peer <= Limit), "max" (pidone's value <= Limit) or "" (no target:
	// reported for context).
	Kind  string
	Peer  string
	Limit float64
	// Text overrides the target column when the rule cannot be checked
	// mechanically (for example "fewest the runtime allows").
	Text string
}

// row is one line of the results table: one figure for every init.
type row struct {
	Group  string // metric family: "reaping", "latency", ...
	Metric string
	Unit   string
	Digits int // decimals when printing
	Values map[string]float64
	Target target
	NA     string // when set, the whole row is "n/a (NA)"
	Note   string
	Load   string // /proc/loadavg while it was measured
	// NoRatio leaves the ratio column empty: the peers' figures are not
	// comparable with pidone's (for example dynamic binaries' sizes).
	NoRatio bool
}

func naRow(group, metric, why string) row {
	return row{Group: group, Metric: metric, NA: why, Values: map[string]float64{}}
}

// noisy reports whether the machine was busier than it has cores while the
// row was measured: the 1-minute load average at the start or the end of
// the row above cores. Other work then competed for the CPUs, and the
// figures, wall-clock ones most, are not those of a quiet machine.
func (r row) noisy(cores int) bool {
	for _, at := range strings.Split(r.Load, "->") {
		f := strings.Fields(at)
		if len(f) == 0 {
			continue
		}
		if load, err := strconv.ParseFloat(f[0], 64); err == nil && load > float64(cores) {
			return true
		}
	}
	return false
}

// value returns the figure of one init, NaN if missing.
func (r row) value(name string) float64 {
	v, ok := r.Values[name]
	if !ok {
		return math.NaN()
	}
	return v
}

// bestPeer is the lowest peer figure and whose it is.
func (r row) bestPeer(peerNames []string) (float64, string) {
	if r.NoRatio {
		return math.NaN(), ""
	}
	return best(r.Values, peerNames)
}

// verdict says whether subject (pidone, or a variant build of it) meets the
// row's target: "met", "MISSED" or "" (no target, or nothing to compare).
func (r row) verdict(peerNames []string, subject string) string {
	if r.NA != "" {
		return ""
	}
	p := r.value(subject)
	var ok bool
	switch r.Target.Kind {
	case "best":
		b, _ := r.bestPeer(peerNames)
		q := ratio(p, b)
		if math.IsNaN(q) {
			return ""
		}
		ok = q <= r.Target.Limit
	case "peer":
		q := ratio(p, r.value(r.Target.Peer))
		if math.IsNaN(q) {
			return ""
		}
		ok = q <= r.Target.Limit
	case "max":
		if math.IsNaN(p) {
			return ""
		}
		ok = p <= r.Target.Limit
	default:
		return ""
	}
	if ok {
		return "met"
	}
	return "MISSED"
}

func (r row) targetText() string {
	if r.Target.Text != "" {
		return r.Target.Text
	}
	switch r.Target.Kind {
	case "best":
		return fmt.Sprintf("<= %.3gx best peer", r.Target.Limit)
	case "peer":
		q := ratio(r.value("pidone"), r.value(r.Target.Peer))
		return fmt.Sprintf("<= %.3gx %s (pidone: %s)", r.Target.Limit, r.Target.Peer, fmtRatio(q))
	case "max":
		return fmt.Sprintf("<= %s %s", fmtNum(r.Target.Limit, r.Digits), r.Unit)
	}
	return ""
}

func fmtNum(v float64, digits int) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", digits, v)
}

func fmtRatio(q float64) string {
	if math.IsNaN(q) {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", q)
}

// results is one run of the benchmark.
type results struct {
	Started  string
	Duration string
	Host     string
	Quick    bool
	Inits    []initSpec
	LoadAt   map[string]string // load at start and end of the run
	Cores    int               // CPUs the machine has: a load above is noisy
	Rows     []row
}

// noisyRows counts the rows measured while the load exceeded the cores.
func (res *results) noisyRows() int {
	n := 0
	for _, r := range res.Rows {
		if r.noisy(res.Cores) {
			n++
		}
	}
	return n
}

func (res *results) peerNames() []string {
	var names []string
	for _, s := range res.Inits {
		if !isSubject(s.Name) && !s.Floor {
			names = append(names, s.Name)
		}
	}
	return names
}

// subjects are pidone and its variant builds (-variant), the inits held to
// the targets; every other init is a peer.
func (res *results) subjects() []string {
	var names []string
	for _, s := range res.Inits {
		if isSubject(s.Name) {
			names = append(names, s.Name)
		}
	}
	return names
}

func isSubject(name string) bool { return strings.HasPrefix(name, "pidone") }

// ratioText is subject's figure over the best peer's, naming the peer.
func (r row) ratioText(peers []string, subject string) string {
	b, who := r.bestPeer(peers)
	q := fmtRatio(ratio(r.value(subject), b))
	if who != "" && q != "n/a" {
		q += " (" + who + ")"
	}
	return q
}

func (res *results) names() []string {
	var names []string
	for _, s := range res.Inits {
		names = append(names, s.Name)
	}
	return names
}

// markdown writes the table, one row per figure.
func (res *results) markdown(w io.Writer) {
	peers := res.peerNames()
	fmt.Fprintf(w, "# pidone benchmark results\n\n")
	fmt.Fprintf(w, "Run %s on %s, took %s%s. Load (1/5/15 min) at start: %s; at end: %s.\n\n",
		res.Started, res.Host, res.Duration, map[bool]string{true: " (BENCH_QUICK: fewer repetitions)", false: ""}[res.Quick],
		res.LoadAt["start"], res.LoadAt["end"])
	if n := res.noisyRows(); n > 0 {
		fmt.Fprintf(w, "**Noisy run:** %d of %d rows were measured while the 1-minute load average exceeded the %d cores; "+
			"they say \"noisy\" in the load column and next to their verdict. Their figures are not those of a quiet machine.\n\n",
			n, len(res.Rows), res.Cores)
	}
	fmt.Fprintf(w, "Inits: ")
	for i, s := range res.Inits {
		if i > 0 {
			fmt.Fprintf(w, "; ")
		}
		fmt.Fprintf(w, "`%s`", strings.Join(append([]string{s.shown()}, s.Args...), " ")+" CMD")
	}
	fmt.Fprintf(w, ".\n\n")
	subj := res.subjects()
	var ratioHeads, verdictHeads []string
	for _, s := range subj {
		ratioHeads = append(ratioHeads, s+" / best peer")
		verdictHeads = append(verdictHeads, map[bool]string{true: "verdict", false: s + " verdict"}[s == "pidone"])
	}
	fmt.Fprintf(w, "| metric | %s | %s | target | %s | load | note |\n", strings.Join(res.names(), " | "),
		strings.Join(ratioHeads, " | "), strings.Join(verdictHeads, " | "))
	fmt.Fprintf(w, "|---|%s%s---|%s---|---|\n", strings.Repeat("---:|", len(res.Inits)),
		strings.Repeat("---|", len(subj)), strings.Repeat("---|", len(subj)))
	for _, r := range res.Rows {
		name := r.Metric
		if r.Unit != "" {
			name += " (" + r.Unit + ")"
		}
		if r.NA != "" {
			cells := strings.Repeat(" | ", len(res.Inits)+2*len(subj))
			fmt.Fprintf(w, "| %s | n/a (%s)%s | %s | %s |\n", name, r.NA, cells, r.Load, r.Note)
			continue
		}
		var cells, ratios, verdicts []string
		for _, n := range res.names() {
			cells = append(cells, fmtNum(r.value(n), r.Digits))
		}
		noisy := r.noisy(res.Cores)
		for _, s := range subj {
			ratios = append(ratios, r.ratioText(peers, s))
			v := r.verdict(peers, s)
			if noisy && v != "" {
				v += " (noisy)"
			}
			verdicts = append(verdicts, v)
		}
		load := r.Load
		if noisy {
			load = "**noisy**: " + load
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", name, strings.Join(cells, " | "),
			strings.Join(ratios, " | "), r.targetText(), strings.Join(verdicts, " | "), load, r.Note)
	}
}

// text writes the same table for a terminal.
func (res *results) text(w io.Writer) {
	peers := res.peerNames()
	fmt.Fprintf(w, "pidone benchmark, %s, load at start %s, at end %s\n", res.Started, res.LoadAt["start"], res.LoadAt["end"])
	if n := res.noisyRows(); n > 0 {
		fmt.Fprintf(w, "NOISY RUN: %d of %d rows measured with the load average above the %d cores (marked NOISY)\n", n, len(res.Rows), res.Cores)
	}
	head := fmt.Sprintf("%-46s", "metric")
	for _, n := range res.names() {
		head += fmt.Sprintf(" %11s", n)
	}
	subj := res.subjects()
	for _, s := range subj {
		head += fmt.Sprintf("  %-22s", s+"/best peer")
	}
	head += fmt.Sprintf("  %-36s", "target")
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, strings.Repeat("-", len(head)+8))
	for _, r := range res.Rows {
		name := r.Metric
		if r.Unit != "" {
			name += " (" + r.Unit + ")"
		}
		if r.NA != "" {
			fmt.Fprintf(w, "%-46s n/a (%s)\n", name, r.NA)
			continue
		}
		line := fmt.Sprintf("%-46s", name)
		for _, n := range res.names() {
			line += fmt.Sprintf(" %11s", fmtNum(r.value(n), r.Digits))
		}
		for _, s := range subj {
			line += fmt.Sprintf("  %-22s", r.ratioText(peers, s))
		}
		line += fmt.Sprintf("  %-36s", r.targetText())
		for _, s := range subj {
			line += " " + r.verdict(peers, s)
		}
		if r.noisy(res.Cores) {
			line += " NOISY"
		}
		if r.Note != "" {
			line += "  [" + r.Note + "]"
		}
		fmt.Fprintln(w, line)
	}
}

// jsonValue keeps NaN (not measured) as null.
type jsonValue float64

func (v jsonValue) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(v))
}

func (res *results) json(w io.Writer) error {
	type jrow struct {
		row
		Values  map[string]jsonValue
		Verdict string
		Noisy   bool
	}
	// Binaries as result files name them (initSpec.shown), not where
	// they were built.
	inits := make([]initSpec, len(res.Inits))
	for i, s := range res.Inits {
		inits[i] = s
		inits[i].Path = s.shown()
	}
	out := struct {
		*results
		Inits []initSpec
		Rows  []jrow
	}{results: res, Inits: inits}
	for _, r := range res.Rows {
		jr := jrow{row: r, Values: map[string]jsonValue{}, Verdict: r.verdict(res.peerNames(), "pidone"), Noisy: r.noisy(res.Cores)}
		for k, v := range r.Values {
			jr.Values[k] = jsonValue(v)
		}
		out.Rows = append(out.Rows, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
