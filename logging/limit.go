package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// FailureEvery is how often one failure is logged at most.
const FailureEvery = time.Second

// limitFailures wraps h so that a failure, a record at WARN or above with
// an "error" attribute, is written at most once per FailureEvery for the
// same message and error; the next one written says how many were held
// back (suppressed=N). A worker that cannot be spawned, a signal that
// cannot be sent, fail again at every try: under a fork bomb that would be
// hundreds of lines a second, burying the first one and filling the disk
// of whoever keeps the log. Events (reaped orphans, started workers) are
// never held back: they carry no error.
//
// A record may also name its kind (Limit): it is then held back by message
// and kind, at any level, whatever its text says.
func limitFailures(h slog.Handler) slog.Handler {
	return &failureLimiter{h: h, seen: &seenFailures{m: map[string]*seenFailure{}}}
}

type failureLimiter struct {
	h    slog.Handler
	seen *seenFailures // shared with the handlers WithAttrs and WithGroup derive
}

type seenFailures struct {
	mu sync.Mutex
	m  map[string]*seenFailure
}

type seenFailure struct {
	last time.Time // when it was last written
	held int       // how many were dropped since
}

// maxSeen bounds the failures remembered: past it, those not seen for
// FailureEvery are forgotten (they would be written anyway).
const maxSeen = 64

func (l *failureLimiter) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l *failureLimiter) WithAttrs(as []slog.Attr) slog.Handler {
	return &failureLimiter{h: l.h.WithAttrs(as), seen: l.seen}
}

func (l *failureLimiter) WithGroup(name string) slog.Handler {
	return &failureLimiter{h: l.h.WithGroup(name), seen: l.seen}
}

// limitKey is the attribute Limit adds; the line written leaves it out.
const limitKey = "pidone.limit"

// Limit puts a record under the once-a-second limit by kind rather than by
// text: records with the same message and kind are written at most once
// per FailureEvery, the next one written saying how many were held back.
// It is for lines a stranger can trigger at will (a datagram on the notify
// socket, issue 18) and for failures whose text changes at every try (the
// name of a temporary file).
func Limit(kind string) slog.Attr {
	return slog.String(limitKey, kind)
}

func (l *failureLimiter) Handle(ctx context.Context, r slog.Record) error {
	key, kind, ok := failureKey(r)
	if !ok {
		return l.h.Handle(ctx, r)
	}
	now := r.Time
	if now.IsZero() {
		now = time.Now()
	}
	held, write := l.seen.allow(key, now)
	if !write {
		return nil
	}
	if kind {
		r = withoutLimit(r)
	} else if held > 0 {
		r = r.Clone()
	}
	if held > 0 {
		r.AddAttrs(slog.Int("suppressed", held))
	}
	return l.h.Handle(ctx, r)
}

// failureKey is the message and kind (Limit) of a record that has one, or
// else the message and error of a failure; ok is false for any other
// record. kind says the key came from Limit.
func failureKey(r slog.Record) (key string, kind, ok bool) {
	var failure string
	r.Attrs(func(a slog.Attr) bool {
		switch {
		case a.Key == limitKey:
			key, kind = r.Message+"\x00kind\x00"+a.Value.String(), true
			return false
		case a.Key == "error" && failure == "":
			failure = r.Message + "\x00" + a.Value.String()
		}
		return true
	})
	switch {
	case kind:
		return key, true, true
	case failure != "" && r.Level >= slog.LevelWarn:
		return failure, false, true
	}
	return "", false, false
}

// withoutLimit is r without the attribute Limit added.
func withoutLimit(r slog.Record) slog.Record {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != limitKey {
			out.AddAttrs(a)
		}
		return true
	})
	return out
}

// allow says whether the failure key may be written at now, and how many
// were held back since it last was.
func (s *seenFailures) allow(key string, now time.Time) (held int, write bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.m[key]
	if f == nil {
		if len(s.m) >= maxSeen {
			for k, old := range s.m {
				if now.Sub(old.last) >= FailureEvery && old.held == 0 {
					delete(s.m, k)
				}
			}
		}
		s.m[key] = &seenFailure{last: now}
		return 0, true
	}
	if now.Sub(f.last) < FailureEvery {
		f.held++
		return 0, false
	}
	held = f.held
	f.last, f.held = now, 0
	return held, true
}
