package main

import (
	"strings"
	"testing"
)

func TestRowNoisy(t *testing.T) {
	for _, tc := range []struct {
		load string
		want bool
	}{
		{"", false},
		{"0.22 1.51 1.61 -> 1.90 2.41 1.95", false},
		{"2.00 0.10 0.10", false},
		{"2.01 0.10 0.10", true},
		{"0.22 0.10 0.10 -> 4.67 1.76 0.65", true},
		{"137.45 191.12 96.04 -> 0.5 0.5 0.5", true},
		{"0.5 9.0 9.0", false}, // only the 1-minute figure speaks for the row
		{"? -> ?", false},
	} {
		if got := (row{Load: tc.load}).noisy(2); got != tc.want {
			t.Errorf("load %q on 2 cores: noisy %v, want %v", tc.load, got, tc.want)
		}
	}
}

func TestMarkdownMarksNoisyRows(t *testing.T) {
	res := &results{Cores: 2, Inits: append(peers(), pidoneSpec("/bin/pidone")), LoadAt: map[string]string{},
		Rows: []row{
			{Metric: "quiet", Values: map[string]float64{"pidone": 1, "tini": 1}, Target: target{Kind: "max", Limit: 2}, Load: "0.5 0.5 0.5 -> 1.0 0.5 0.5"},
			{Metric: "busy", Values: map[string]float64{"pidone": 1, "tini": 1}, Target: target{Kind: "max", Limit: 2}, Load: "0.5 0.5 0.5 -> 3.0 0.5 0.5"},
		}}
	var b strings.Builder
	res.markdown(&b)
	out := b.String()
	if !strings.Contains(out, "**Noisy run:** 1 of 2 rows") {
		t.Errorf("no noisy-run note in:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "| quiet"):
			if strings.Contains(line, "noisy") {
				t.Errorf("quiet row marked noisy: %s", line)
			}
		case strings.HasPrefix(line, "| busy"):
			if !strings.Contains(line, "met (noisy)") || !strings.Contains(line, "**noisy**: ") {
				t.Errorf("busy row not marked noisy: %s", line)
			}
		}
	}
}
