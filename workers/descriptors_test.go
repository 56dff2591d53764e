package workers

import "testing"

func TestDescriptorsNeeded(t *testing.T) {
	tests := []struct {
		doc     string
		counts  []int
		pidfile bool
		want    int
	}{
		{"one worker", []int{1}, false, 4},
		{"a pidfile adds its lock", []int{1}, true, 5},
		{"a pidfd and the reaper's copy per worker of every group", []int{4, 2}, false, 14},
		{"eight workers and a pidfile", []int{8}, true, 19},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			var specs []*GroupSpec
			for _, c := range tt.counts {
				specs = append(specs, &GroupSpec{Count: c})
			}
			if got := descriptorsNeeded(specs, tt.pidfile); got != tt.want {
				t.Errorf("descriptorsNeeded(%v, %v) = %d, want %d", tt.counts, tt.pidfile, got, tt.want)
			}
		})
	}
}
