package cli

import "testing"

func TestSuperviseNeed(t *testing.T) {
	tests := []struct {
		doc         string
		pause, pid1 bool
		want        int
	}{
		{"a command: the poller, then a pipe, a pidfd and the reaper's copy at the start", false, true, 6},
		{"a command below another init", false, false, 6},
		{"pause as PID 1: the poller and /proc/self/maps", true, true, 3},
		{"pause as a subreaper: the poller and a walk's two", true, false, 4},
	}
	for _, tt := range tests {
		if got := SuperviseNeed(tt.pause, tt.pid1); got != tt.want {
			t.Errorf("%s: SuperviseNeed(%v, %v) = %d, want %d", tt.doc, tt.pause, tt.pid1, got, tt.want)
		}
	}
}
