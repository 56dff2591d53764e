package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFailuresAreLoggedAtMostOnceASecond(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eagain := errors.New("resource temporarily unavailable")
	enoent := errors.New("no such file or directory")
	type entry struct {
		after time.Duration
		level slog.Level
		msg   string
		err   error // nil: no error attribute
	}
	tests := []struct {
		doc     string
		entries []entry
		want    []string // the lines written, in order, by their distinguishing text
	}{
		{"a failure repeating within the second is written once",
			[]entry{{0, slog.LevelWarn, "cannot start worker", eagain}, {300 * time.Millisecond, slog.LevelWarn, "cannot start worker", eagain}, {999 * time.Millisecond, slog.LevelWarn, "cannot start worker", eagain}},
			[]string{`msg="cannot start worker" slot=0 error="resource temporarily unavailable"`}},
		{"a second later it is written again, with the count held back",
			[]entry{{0, slog.LevelWarn, "cannot start worker", eagain}, {100 * time.Millisecond, slog.LevelWarn, "cannot start worker", eagain}, {200 * time.Millisecond, slog.LevelWarn, "cannot start worker", eagain}, {time.Second, slog.LevelWarn, "cannot start worker", eagain}},
			[]string{`slot=0 error="resource temporarily unavailable"$`, `slot=3 error="resource temporarily unavailable" suppressed=2`}},
		{"another error is another failure",
			[]entry{{0, slog.LevelWarn, "cannot start worker", eagain}, {0, slog.LevelWarn, "cannot start worker", enoent}},
			[]string{`slot=0 error="resource temporarily unavailable"`, `slot=1 error="no such file or directory"`}},
		{"another message is another failure",
			[]entry{{0, slog.LevelWarn, "cannot start worker", eagain}, {0, slog.LevelError, "cannot run command", eagain}},
			[]string{`msg="cannot start worker"`, `msg="cannot run command"`}},
		{"events without an error are never held back",
			[]entry{{0, slog.LevelWarn, "reaped orphan", nil}, {0, slog.LevelWarn, "reaped orphan", nil}, {0, slog.LevelInfo, "respawning worker", nil}, {0, slog.LevelInfo, "respawning worker", nil}},
			[]string{`slot=0`, `slot=1`, `slot=2`, `slot=3`}},
		{"below WARN an error attribute is only information",
			[]entry{{0, slog.LevelInfo, "cannot take the terminal back", eagain}, {0, slog.LevelInfo, "cannot take the terminal back", eagain}},
			[]string{`slot=0`, `slot=1`}},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			var buf bytes.Buffer
			h := limitFailuresWith(slog.NewTextHandler(&buf, &slog.HandlerOptions{
				Level: slog.LevelDebug,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
						return slog.Attr{}
					}
					return a
				},
			}), noTimer)
			for i, e := range tt.entries {
				r := slog.NewRecord(t0.Add(e.after), e.level, e.msg, 0)
				r.AddAttrs(slog.Int("slot", i))
				if e.err != nil {
					r.AddAttrs(slog.Any("error", e.err))
				}
				if err := h.Handle(t.Context(), r); err != nil {
					t.Fatal(err)
				}
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tt.want), buf.String())
			}
			for i, want := range tt.want {
				if !matches(lines[i], want) {
					t.Errorf("line %d: got %q, want it to match %q", i, lines[i], want)
				}
			}
		})
	}
}

// matches reports whether line contains want, or ends with it when want
// ends with $.
func matches(line, want string) bool {
	if s, ok := strings.CutSuffix(want, "$"); ok {
		return strings.HasSuffix(line, s)
	}
	return strings.Contains(line, want)
}

func TestFailuresRememberedAreBounded(t *testing.T) {
	s := &seenFailures{m: map[string]*seenFailure{}}
	t0 := time.Now()
	for i := range 10 * maxSeen {
		s.allow(strings.Repeat("x", i), t0.Add(time.Duration(i)*FailureEvery), slog.Record{}, nil)
	}
	if len(s.m) > maxSeen {
		t.Errorf("%d failures remembered, want at most %d", len(s.m), maxSeen)
	}
}

func TestLimitHoldsBackByKindWhateverTheText(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	h := limitFailures(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	log := func(after time.Duration, level slog.Level, msg string, attrs ...slog.Attr) {
		r := slog.NewRecord(t0.Add(after), level, msg, 0)
		r.AddAttrs(attrs...)
		if err := h.Handle(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	// A failure whose text names a new temporary file at every try.
	for i := range 5 {
		err := errors.New("write /run/.app.pid.status." + strings.Repeat("7", i+1) + ": no space left on device")
		log(time.Duration(i)*100*time.Millisecond, slog.LevelWarn, "cannot write the status file", slog.Any("error", err), Limit("status-file"))
	}
	// A stranger's message, at any level, whatever its sender and text.
	for i := range 5 {
		log(time.Duration(i)*100*time.Millisecond, slog.LevelDebug, "notification ignored", slog.Int("sender", i), Limit("notify"))
	}
	log(1100*time.Millisecond, slog.LevelWarn, "cannot write the status file", slog.Any("error", errors.New("ENOSPC")), Limit("status-file"))
	log(1100*time.Millisecond, slog.LevelDebug, "notification ignored", slog.Int("sender", 9), Limit("notify"))
	want := []string{
		`msg="cannot write the status file" error="write /run/.app.pid.status.7: no space left on device"`,
		`msg="notification ignored" sender=0`,
		`msg="cannot write the status file" error=ENOSPC suppressed=4`,
		`msg="notification ignored" sender=9 suppressed=4`,
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: got %q, want %q (the kind is not written)", i, lines[i], want[i])
		}
	}
}

// noTimer never writes a held record on its own.
func noTimer(time.Duration, func()) func() bool { return func() bool { return true } }

// manualTimers runs the held records' timers when the test says.
type manualTimers struct {
	fire   []func()
	delays []time.Duration
}

func (m *manualTimers) after(d time.Duration, f func()) func() bool {
	i := len(m.fire)
	m.fire, m.delays = append(m.fire, f), append(m.delays, d)
	return func() bool { stopped := m.fire[i] != nil; m.fire[i] = nil; return stopped }
}

func (m *manualTimers) run() {
	for i, f := range m.fire {
		if f != nil {
			m.fire[i] = nil
			f()
		}
	}
}

func textLines(buf *bytes.Buffer) []string {
	s := strings.TrimSuffix(buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// A crash storm of a thousand workers dying the same way within a second
// gives two lines: the first at once, the last held back when the second
// is over, saying how many it stands for.
func TestACrashStormIsBoundedAndCounted(t *testing.T) {
	var buf bytes.Buffer
	timers := &manualTimers{}
	log := slog.New(limitFailuresWith(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), timers.after))
	killed := unix.WaitStatus(unix.SIGKILL) // signaled, no core
	for i := range 1000 {
		log.Warn("worker exited", "slot", i, Crash(killed))
	}
	log.Warn("worker exited", "slot", 1000, Crash(unix.WaitStatus(3<<8)))
	log.Warn("reaped orphan", "pid", 7, Status(killed))
	log.Warn("reaped orphan", "pid", 8, Status(killed))
	log.Info("worker started", "slot", 0)
	got := textLines(&buf)
	want := []string{
		`level=WARN msg="worker exited" slot=0 status="killed by SIGKILL"`,
		`level=WARN msg="worker exited" slot=1000 status="exit status 3"`,
		`level=WARN msg="reaped orphan" pid=7 status="killed by SIGKILL"`,
		`level=WARN msg="reaped orphan" pid=8 status="killed by SIGKILL"`,
		`level=INFO msg="worker started" slot=0`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("before the second is over:\ngot  %q\nwant %q", got, want)
	}
	if len(timers.delays) != 1 || timers.delays[0] <= 0 || timers.delays[0] > FailureEvery {
		t.Errorf("timers %v, want one within the second", timers.delays)
	}
	timers.run()
	got = textLines(&buf)
	last := `level=WARN msg="worker exited" slot=999 status="killed by SIGKILL" suppressed=998`
	if len(got) != 6 || got[5] != last {
		t.Errorf("after the second:\ngot  %q\nwant a 6th line %q", got, last)
	}
	timers.run()
	if n := len(textLines(&buf)); n != 6 {
		t.Errorf("a timer fired twice: %d lines", n)
	}
}

// FlushHeld writes what is held back at once; a record that comes after
// the second cancels the timer and carries the count itself.
func TestFlushHeldAndLateRecords(t *testing.T) {
	var buf bytes.Buffer
	timers := &manualTimers{}
	log := slog.New(limitFailuresWith(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), timers.after))
	gaveUp := unix.WaitStatus(1 << 8)
	log.Error("worker slot given up", "slot", 0, Crash(gaveUp))
	log.Error("worker slot given up", "slot", 1, Crash(gaveUp))
	FlushHeld(log)
	want := []string{
		`level=ERROR msg="worker slot given up" slot=0 status="exit status 1"`,
		`level=ERROR msg="worker slot given up" slot=1 status="exit status 1"`,
	}
	if got := textLines(&buf); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	timers.run()
	if n := len(textLines(&buf)); n != 2 {
		t.Errorf("the flushed record was written again: %d lines", n)
	}
	FlushHeld(slog.New(slog.NewTextHandler(&buf, nil))) // not ours: nothing to do
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
