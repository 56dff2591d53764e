package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mode is an enum as the packages declare them: an int with a String.
type mode int

func (m mode) String() string { return [...]string{"signal", "replace"}[m] }

// JSON records carry names, seconds and structured statuses; text records
// stay as people read them.
func TestJSONRecordsAreMachineGrade(t *testing.T) {
	core := unix.WaitStatus(uint32(unix.SIGSEGV) | 0x80)
	tests := []struct {
		doc   string
		attrs []any
		json  map[string]any // beside time, level, msg
		text  string
	}{
		{"an enum is its name", []any{"mode", mode(1)},
			map[string]any{"mode": "replace"}, `mode=replace`},
		{"a duration is seconds under a _s key", []any{"delay", 50 * time.Millisecond, "grace", 5 * time.Second},
			map[string]any{"delay_s": 0.05, "grace_s": 5.0}, `delay=50ms grace=5s`},
		{"an exit is exit_code", []any{Status(unix.WaitStatus(3 << 8))},
			map[string]any{"exit_code": 3.0}, `status="exit status 3"`},
		{"a crash is the same", []any{Crash(unix.WaitStatus(3 << 8))},
			map[string]any{"exit_code": 3.0}, `status="exit status 3"`},
		{"a death by signal is its name, number and core flag", []any{"pid", 7, Status(core)},
			map[string]any{"pid": 7.0, "signal": "SIGSEGV", "signal_number": 11.0, "core_dumped": true},
			`pid=7 status="killed by SIGSEGV (core dumped)"`},
		{"an error is its text", []any{"error", errors.New("no such file")},
			map[string]any{"error": "no such file"}, `error="no such file"`},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			var j, x bytes.Buffer
			NewTo(&j, Options{Format: "json"}).Warn("m", tt.attrs...)
			NewTo(&x, Options{Format: "text"}).Warn("m", tt.attrs...)
			var got map[string]any
			if err := json.Unmarshal(j.Bytes(), &got); err != nil {
				t.Fatalf("%q: %v", j.String(), err)
			}
			if got["level"] != "WARN" || got["msg"] != "m" {
				t.Errorf("level, msg: %q", j.String())
			}
			delete(got, "time")
			delete(got, "level")
			delete(got, "msg")
			if !reflect.DeepEqual(got, tt.json) {
				t.Errorf("json %v, want %v", got, tt.json)
			}
			if !strings.HasSuffix(strings.TrimSpace(x.String()), `msg=m `+tt.text) {
				t.Errorf("text %q, want it to end %q", x.String(), tt.text)
			}
		})
	}
}
