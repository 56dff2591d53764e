package logging

import (
	"context"
	"log/slog"
	"slices"
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
// of whoever keeps the log.
//
// A record may also name its kind (Limit): it is then held back by message
// and kind, at any level, whatever its text says.
//
// A death at WARN or above (a record with a Crash attribute: a worker
// that crashed, a slot given up) is limited the same way, by message and
// exit status: a thousand workers crashing at once give one line, then at
// most one a second, each saying how many it stands for (issue 22).
//
// The last record held back is not lost: if nothing like it comes within
// the rest of the second, it is written then, with the count of those
// before it; FlushHeld writes it at once (a master about to exit). Other
// events (reaped orphans, started workers) are never held back.
func limitFailures(h slog.Handler) slog.Handler {
	return limitFailuresWith(h, func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop })
}

// limitFailuresWith is limitFailures with the timer that writes a held
// record injected (tests); after runs f after d and returns its stop.
func limitFailuresWith(h slog.Handler, after func(d time.Duration, f func()) (stop func() bool)) slog.Handler {
	return &failureLimiter{h: h, seen: &seenFailures{m: map[string]*seenFailure{}, after: after}}
}

type failureLimiter struct {
	h    slog.Handler
	seen *seenFailures // shared with the handlers WithAttrs and WithGroup derive
}

type seenFailures struct {
	mu    sync.Mutex
	m     map[string]*seenFailure
	after func(time.Duration, func()) func() bool
}

type seenFailure struct {
	last time.Time // when it was last written
	held int       // how many were dropped since
	// latest is the last record held back and the handler it was meant
	// for; flush stops the timer that would write it.
	latest *slog.Record
	to     slog.Handler
	flush  func() bool
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
	if kind {
		r = withoutLimit(r)
	}
	now := r.Time
	if now.IsZero() {
		now = time.Now()
	}
	held, write := l.seen.allow(key, now, r, l.h)
	if !write {
		return nil
	}
	if held > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", held))
	}
	return l.h.Handle(ctx, r)
}

// failureKey is the message and kind (Limit) of a record that has one, or
// else the message and error, or message and exit status, of a failure;
// ok is false for any other record. kind says the key came from Limit.
func failureKey(r slog.Record) (key string, kind, ok bool) {
	var failure string
	r.Attrs(func(a slog.Attr) bool {
		_, crash := a.Value.Any().(crashStatus)
		switch {
		case a.Key == limitKey:
			key, kind = r.Message+"\x00kind\x00"+a.Value.String(), true
			return false
		case (a.Key == "error" || crash) && failure == "":
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
// were held back since it last was. A record held back (r, for handler h)
// is kept as the key's latest, to be written when the second is over.
func (s *seenFailures) allow(key string, now time.Time, r slog.Record, h slog.Handler) (held int, write bool) {
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
		c := r.Clone()
		f.latest, f.to = &c, h
		if f.flush == nil {
			f.flush = s.after(f.last.Add(FailureEvery).Sub(now), func() { s.flushKey(key) })
		}
		return 0, false
	}
	held = f.held
	f.drop()
	f.last = now
	return held, true
}

// drop forgets the record held back, and its timer.
func (f *seenFailure) drop() {
	if f.flush != nil {
		f.flush()
	}
	f.held, f.latest, f.to, f.flush = 0, nil, nil, nil
}

// flushKey writes the record of key held back last, with the count of
// those held before it. It writes holding the lock, so that FlushHeld
// returns only once a record a timer took is written too.
func (s *seenFailures) flushKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.m[key]
	if f == nil || f.latest == nil {
		return
	}
	r, h, before := *f.latest, f.to, f.held-1
	f.flush = nil // it is running
	f.drop()
	f.last = time.Now()
	// Stamped when written, not when it happened: a reader of the log
	// sees one line of a kind a second at most, and suppressed says the
	// line stands for earlier ones too.
	r.Time = f.last
	if before > 0 {
		r.AddAttrs(slog.Int("suppressed", before))
	}
	_ = h.Handle(context.Background(), r)
}

// FlushHeld writes at once every record log's handler holds back, so that
// a process about to exit says how many it held.
func FlushHeld(log *slog.Logger) {
	l, ok := log.Handler().(*failureLimiter)
	if !ok {
		return
	}
	l.seen.mu.Lock()
	var keys []string
	for k, f := range l.seen.m {
		if f.latest != nil {
			keys = append(keys, k)
		}
	}
	// In the order they were held.
	slices.SortFunc(keys, func(a, b string) int { return l.seen.m[a].latest.Time.Compare(l.seen.m[b].latest.Time) })
	l.seen.mu.Unlock()
	for _, k := range keys {
		l.seen.flushKey(k)
	}
}
