package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	long := strings.Repeat("A", 100_000)
	for _, tc := range []struct {
		doc, in, str, quoted string
	}{
		{"short: as it is", "TERM", "TERM", `"TERM"`},
		{"exactly Max", strings.Repeat("x", Max), strings.Repeat("x", Max), `"` + strings.Repeat("x", Max) + `"`},
		{"100 KB: cut, length said", long, strings.Repeat("A", Max) + "... (100000 bytes)", `"` + strings.Repeat("A", Max) + `"... (100000 bytes)`},
		{"never inside a character", strings.Repeat("a", Max-1) + "é" + "zz", strings.Repeat("a", Max-1) + "... (67 bytes)", `"` + strings.Repeat("a", Max-1) + `"... (67 bytes)`},
		{"control bytes quoted", "\x00\n", "\x00\n", `"\x00\n"`},
	} {
		if got := String(tc.in); got != tc.str {
			t.Errorf("%s: String = %q, want %q", tc.doc, got, tc.str)
		}
		if got := Quote(tc.in); got != tc.quoted {
			t.Errorf("%s: Quote = %q, want %q", tc.doc, got, tc.quoted)
		}
	}
}

func FuzzClip(f *testing.F) {
	f.Add("TERM")
	f.Add(strings.Repeat("é", 40))
	f.Add(strings.Repeat("\xff", 70))
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if len(got) > Max+len("... (1000000000 bytes)") {
			t.Fatalf("String(%d bytes) is %d bytes long", len(s), len(got))
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("String cut a character: %q", got)
		}
		if len(s) <= Max && got != s {
			t.Fatalf("String changed a short value: %q -> %q", s, got)
		}
	})
}
