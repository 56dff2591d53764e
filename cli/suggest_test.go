package cli

import (
	"strings"
	"testing"
)

func TestClosestOption(t *testing.T) {
	tests := []struct {
		typed string
		want  string // "" for no suggestion
	}{
		{"grce", "grace"},   // a letter missing
		{"gracee", "grace"}, // one too many
		{"hlep", "help"},    // two neighbours swapped
		{"Grace", "grace"},  // case
		{"singel-child", "single-child"},
		{"termination_log", "termination-log"},
		{"terminaton-log", "termination-log"},
		{"wait_all", "wait-all"},
		{"worker", "workers"},
		{"log-formt", "log-format"},
		{"reload-sginal", "reload-signal"},
		{"verbose", ""}, // dumb-init's -v; "version" is 4 edits away: no guess
		{"x", ""},
		{"foo", ""},
		{"debug", ""},
		{"kill-after", ""},
		{"single", ""}, // a prefix, but 6 edits from single-child
	}
	for _, tt := range tests {
		if got := closestOption(tt.typed, pidoneOptions); got != tt.want {
			t.Errorf("closestOption(%q) = %q, want %q", tt.typed, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"grace", "grace", 0},
		{"grce", "grace", 1},
		{"grace", "grase", 1},
		{"hlep", "help", 1}, // a swap is one edit
		{"ab", "ba", 1},
		{"abc", "ca", 3}, // optimal string alignment: no edit of a swapped pair
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// The line is pidone's own: under a peer's name the peer's message stays
// exactly as before.
func TestDidYouMeanOnlyInPidonesOwnMode(t *testing.T) {
	_, err := parseArgs([]string{"--grce", "1s", "true"}, pidoneOptions)
	if err == nil || !strings.Contains(err.Error(), "unknown option --grce\ndid you mean --grace?") {
		t.Errorf("pidone --grce: got error %v, want a did-you-mean line", err)
	}
	_, err = parseArgs([]string{"--frobnicate", "true"}, pidoneOptions)
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("pidone --frobnicate: got error %v, want no suggestion", err)
	}
	c := parseDumbInit("dumb-init", []string{"--singel-child", "true"}, env())
	if !c.exit || strings.Contains(c.stderr, "did you mean") {
		t.Errorf("dumb-init --singel-child: got %+v, want dumb-init's own message", c)
	}
}
