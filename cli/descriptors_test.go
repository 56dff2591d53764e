package cli

import "testing"

func TestSuperviseNeed(t *testing.T) {
	tests := []struct {
		doc                  string
		pause, pid1, control bool
		want                 int
	}{
		{"a command: the poller, then a pipe, a pidfd and the reaper's copy at the start", false, true, false, 6},
		{"a command below another init", false, false, false, 6},
		{"pause as PID 1: the poller and /proc/self/maps", true, true, false, 3},
		{"pause as a subreaper: the poller and a walk's two", true, false, false, 4},
		{"a command with a control socket: the socket, four clients, a /proc file", false, true, true, 12},
		{"pause with a control socket", true, true, true, 9},
	}
	for _, tt := range tests {
		if got := SuperviseNeed(tt.pause, tt.pid1, tt.control); got != tt.want {
			t.Errorf("%s: SuperviseNeed(%v, %v, %v) = %d, want %d", tt.doc, tt.pause, tt.pid1, tt.control, got, tt.want)
		}
	}
}
