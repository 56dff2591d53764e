package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	supervisor "github.com/pidone/pidone/init"
)

func TestStartFailureHint(t *testing.T) {
	notFound := &exec.Error{Name: "x", Err: exec.ErrNotFound}
	tests := []struct {
		command   string
		err       error
		subreaper bool // -s came before the command
		hint      bool
	}{
		{"--version", notFound, false, true},
		{"-w", notFound, false, true},
		{"--version", syscall.EACCES, false, false}, // found, so a real file
		{"nosuch", notFound, false, false},
		{"-", notFound, false, false}, // not an option: pidone passes a lone "-" as a command
		{"/app", fmt.Errorf("exec: %w", syscall.ENOENT), false, false},
		{"stop", notFound, true, true}, // libhv's -s stop
		{"stop", notFound, false, false},
		{"nosuch", notFound, true, false},
	}
	for _, tt := range tests {
		attrs := startFailureAttrs(&supervisor.StartError{Command: tt.command, Err: tt.err}, tt.subreaper)
		got := fmt.Sprint(attrs...)
		hasHint := len(attrs) == 6 && attrs[4] == "hint"
		if hasHint != tt.hint {
			t.Errorf("command %q, error %v: attrs %q, want a hint: %v", tt.command, tt.err, got, tt.hint)
		}
		want := "docker run --entrypoint /pidone IMAGE " + tt.command
		if tt.subreaper {
			want = "pidone ctl " + tt.command + " --pidfile PATH"
		}
		if hasHint && !strings.Contains(attrs[5].(string), want) {
			t.Errorf("command %q: hint %q does not say %q", tt.command, attrs[5], want)
		}
		if attrs[0] != "command" || attrs[1] != tt.command || attrs[2] != "error" || !errors.Is(attrs[3].(error), tt.err) {
			t.Errorf("command %q: attrs %q do not start with the command and the error", tt.command, got)
		}
	}
}
