package supervisor

import "testing"

func TestVerdict(t *testing.T) {
	for n, want := range map[int]string{-1: "leftovers unknown", 0: "clean", 1: "1 leftover", 12: "12 leftovers"} {
		if got := verdict(n); got != want {
			t.Errorf("verdict(%d) = %q, want %q", n, got, want)
		}
	}
}
