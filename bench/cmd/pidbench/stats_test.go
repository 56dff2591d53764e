package main

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		doc  string
		xs   []float64
		p    float64
		want float64
	}{
		{"empty is NaN", nil, 50, math.NaN()},
		{"one value", []float64{7}, 99, 7},
		{"median of odd count", []float64{3, 1, 2}, 50, 2},
		{"median of even count interpolates", []float64{4, 1, 3, 2}, 50, 2.5},
		{"p0 is the minimum", []float64{5, 9, 1}, 0, 1},
		{"p100 is the maximum", []float64{5, 9, 1}, 100, 9},
		{"p99 of 1..101", seq(1, 101), 99, 100},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			got := percentile(tt.xs, tt.p)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.xs, tt.p, got, tt.want)
			}
		})
	}
}

func TestBest(t *testing.T) {
	vals := map[string]float64{"tini": 3, "dumb-init": math.NaN(), "catatonit": 2, "pidone": 1}
	got, who := best(vals, []string{"tini", "dumb-init", "catatonit"})
	if got != 2 || who != "catatonit" {
		t.Errorf("best = %v %q, want 2 catatonit (pidone is no peer, NaN is skipped)", got, who)
	}
	if got, _ := best(map[string]float64{}, []string{"tini"}); !math.IsNaN(got) {
		t.Errorf("best of nothing = %v, want NaN", got)
	}
}

func TestRotate(t *testing.T) {
	got := rotate([]string{"a", "b", "c"}, 4)
	if want := []string{"b", "c", "a"}; !equal(got, want) {
		t.Errorf("rotate = %v, want %v", got, want)
	}
}

func seq(lo, hi int) []float64 {
	var s []float64
	for i := lo; i <= hi; i++ {
		s = append(s, float64(i))
	}
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
