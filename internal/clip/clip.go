// Package clip shortens a user's value before an error message echoes it.
// A message must say what was wrong, but a 100 KB signal name or JSON key
// echoed in full floods the log and hides the message; every parser that
// repeats its input goes through here, so the cut is the same everywhere.
package clip

import (
	"strconv"
	"unicode/utf8"
)

// Max is how many bytes of a value a message repeats.
const Max = 64

// String returns s, or its first Max bytes (cut at a character boundary)
// followed by "..." and how long s was.
func String(s string) string {
	if len(s) <= Max {
		return s
	}
	return s[:cut(s)] + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// Quote is strconv.Quote of s, cut as String cuts it; the note on the
// length stays outside the quotes, so it cannot be taken for the value.
func Quote(s string) string {
	if len(s) <= Max {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:cut(s)]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// cut is where to cut s (longer than Max): at most Max bytes, not in the
// middle of a UTF-8 sequence.
func cut(s string) int {
	n := Max
	for n > Max-utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
