package main

import (
	"math"
	"slices"
)

// percentile returns the p-th percentile (0-100) of xs by linear
// interpolation between closest ranks; NaN for no data.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 1 {
		return s[0]
	}
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func median(xs []float64) float64 { return percentile(xs, 50) }

// best returns the smallest value among the peers and which peer has it;
// NaN values (a peer that could not be measured) are skipped.
func best(vals map[string]float64, names []string) (float64, string) {
	b, who := math.NaN(), ""
	for _, n := range names {
		v, ok := vals[n]
		if !ok || math.IsNaN(v) {
			continue
		}
		if math.IsNaN(b) || v < b {
			b, who = v, n
		}
	}
	return b, who
}

// ratio is a/b, NaN when either is missing or b is not positive.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b <= 0 {
		return math.NaN()
	}
	return a / b
}
