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
		command string
		err     error
		hint    bool
	}{
		{"--version", notFound, true},
		{"-w", notFound, true},
		{"--version", syscall.EACCES, false}, // found, so a real file
		{"nosuch", notFound, false},
		{"-", notFound, false}, // not an option: pidone passes a lone "-" as a command
		{"/app", fmt.Errorf("exec: %w", syscall.ENOENT), false},
	}
	for _, tt := range tests {
		attrs := startFailureAttrs(&supervisor.StartError{Command: tt.command, Err: tt.err})
		got := fmt.Sprint(attrs...)
		hasHint := len(attrs) == 6 && attrs[4] == "hint"
		if hasHint != tt.hint {
			t.Errorf("command %q, error %v: attrs %q, want a hint: %v", tt.command, tt.err, got, tt.hint)
		}
		if hasHint && !strings.Contains(attrs[5].(string), "docker run --entrypoint /pidone IMAGE "+tt.command) {
			t.Errorf("command %q: hint %q does not show the --entrypoint form", tt.command, attrs[5])
		}
		if attrs[0] != "command" || attrs[1] != tt.command || attrs[2] != "error" || !errors.Is(attrs[3].(error), tt.err) {
			t.Errorf("command %q: attrs %q do not start with the command and the error", tt.command, got)
		}
	}
}
