package supervisor

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestKillReason(t *testing.T) {
	tests := []struct {
		before  phase
		byTimer bool
		want    string
	}{
		{stopping, true, "the grace period (--grace 5s) is over"},
		{stopping, false, "a second stop request"},
		{running, false, "no grace period (--grace 0)"},
		{draining, true, "no grace period (--grace 0)"},
	}
	for _, tt := range tests {
		if got := killReason(tt.before, tt.byTimer, 5*time.Second); got != tt.want {
			t.Errorf("killReason(%v, %v) = %q, want %q", tt.before, tt.byTimer, got, tt.want)
		}
	}
}

func TestDescribeVictimsCapsTheList(t *testing.T) {
	self := os.Getpid() // a pid whose comm can be read
	var procs []procInfo
	for range maxNamed + 3 {
		procs = append(procs, procInfo{pid: self})
	}
	got := describeVictims(procs)
	if n := strings.Count(got, "("); n != maxNamed {
		t.Errorf("describeVictims of %d processes names %d, want %d: %q", len(procs), n, maxNamed, got)
	}
	if !strings.HasSuffix(got, ", and 3 more") {
		t.Errorf("describeVictims of %d processes = %q, want it to end in \", and 3 more\"", len(procs), got)
	}
	if want := comm(self); want == "?" || !strings.Contains(got, "("+want+")") {
		t.Errorf("describeVictims = %q, want the command name %q", got, want)
	}
	if got := describeVictims([]procInfo{{pid: 1 << 30}}); got != "1073741824 (?)" {
		t.Errorf("describeVictims of a gone process = %q, want \"1073741824 (?)\"", got)
	}
}
