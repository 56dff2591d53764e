package forward

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Fuzz targets for the signal parsers every option that takes a signal,
// a rewrite or a delay goes through. None may panic; what they accept is
// in range; what they echo is cut (internal/clip).

// maxMessage bounds an error message: it names at most two values, each
// cut to 64 bytes (internal/clip), which %q may spell with 4 characters a
// byte (\x01), and a length note.
const maxMessage = 2*(4*64+30) + 200

func checkMessage(t *testing.T, err error) {
	t.Helper()
	if err != nil && len(err.Error()) > maxMessage {
		t.Fatalf("a %d-byte error message: %.200q", len(err.Error()), err)
	}
}

var signalSeeds = []string{"TERM", "SIGTERM", "sigterm", " hup ", "15", "015", "+15", "-1", "0", "64", "65", "RTMIN", "RTMIN+3", "SIGRTMAX-2",
	"RTMIN++3", "RTMIN+-3", "RTMAX--1", "RTMIN+", "RTMIN+99999999999999999999", "SIGSIGTERM", "IOT", "CLD", "POLL", "UNUSED", "", "\x00", "ß"}

func FuzzParse(f *testing.F) {
	for _, s := range signalSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := Parse(s)
		if err != nil {
			checkMessage(t, err)
			return
		}
		if sig < 1 || sig > maxSignal {
			t.Fatalf("Parse(%q) = %d", s, sig)
		}
		if sig >= 32 && sig < rtMin {
			return // no name: the C library's
		}
		if back, err := Parse(Name(sig)); err != nil || back != sig {
			t.Fatalf("Parse(%q) = %d, but Parse(Name(%d) = %q) = %d, %v", s, sig, sig, Name(sig), back, err)
		}
	})
}

func FuzzParseRewrite(f *testing.F) {
	for _, s := range []string{"TERM:QUIT", "15:3", "USR1:none", "HUP:DROP", "RTMIN+3:RTMAX-1", "KILL:TERM", "CHLD:USR1", "TERM", "TERM:", ":", "TERM:KILL:STOP", "RTMIN++3:TERM"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		from, to, err := ParseRewrite(rule)
		if err != nil {
			checkMessage(t, err)
			return
		}
		if !Forwardable(from) || to < 0 || to > maxSignal {
			t.Fatalf("ParseRewrite(%q) = %d, %d", rule, from, to)
		}
	})
}

func FuzzParseDelay(f *testing.F) {
	for _, s := range []string{"TERM:5s", "INT:250ms", "TERM:0", "TERM:-1s", "TERM:soon", "KILL:1s", "TERM", "TERM:1h:2h", "TERM:9223372036854775807ns", "TERM:1e3s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		sig, d, err := ParseDelay(rule)
		if err != nil {
			checkMessage(t, err)
			return
		}
		if !Forwardable(sig) || d < 0 || sig == unix.SIGCHLD {
			t.Fatalf("ParseDelay(%q) = %d, %v", rule, sig, d)
		}
	})
}
