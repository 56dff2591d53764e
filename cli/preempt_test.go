package cli

import "testing"

func TestPreemptionOff(t *testing.T) {
	for _, tc := range []struct {
		doc         string
		linked, env string
		want        bool
	}{
		{"make build", "asyncpreemptoff=1", "", true},
		{"plain go build", "", "", false},
		{"environment turns it on again", "asyncpreemptoff=1", "asyncpreemptoff=0", false},
		{"environment alone", "", "madvdontneed=1,asyncpreemptoff=1", true},
		{"other settings leave it", "asyncpreemptoff=1", "gctrace=1", true},
		{"last one wins", "", "asyncpreemptoff=1,asyncpreemptoff=0", false},
		{"not a number is ignored", "asyncpreemptoff=1", "asyncpreemptoff=yes", true},
	} {
		if got := preemptionOff(tc.linked, tc.env); got != tc.want {
			t.Errorf("%s: preemptionOff(%q, %q) = %v, want %v", tc.doc, tc.linked, tc.env, got, tc.want)
		}
	}
}
