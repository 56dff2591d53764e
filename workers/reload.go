package workers

import "time"

// reloadHoldoff is how long after a reload further reload signals are held
// back. The first reload signal is acted on at once (the leading edge);
// the ones that arrive during its fan-out or within reloadHoldoff after it
// are merged into one more reload when the hold ends (the trailing edge),
// which reads the configuration as it stands after the last of them. A
// burst of reload signals (a config tool and logrotate, a user's double
// kill) thus gives at most two reloads, and a storm at most one reload per
// reloadHoldoff; and no signal is lost: one sent after a reload read the
// configuration is always followed by a reload that reads it again.
const reloadHoldoff = 100 * time.Millisecond

// reloadGate decides when reload signals become reloads. Its methods are
// pure transitions on the time passed in, so tests drive it with an
// injected clock. The zero value holds nothing back.
type reloadGate struct {
	holdUntil time.Time // reloads are held back until then
	pending   bool      // a reload signal came during the hold
	// mode is the burst's: that of its leading reload, or replace once
	// any of its signals asked for one.
	mode ReloadMode
}

// request records a reload signal at now. It returns the mode of a reload
// to make at once, or ok false when the signal is held for the trailing
// reload. A replace request wins over a plain reload in the same burst: a
// plain reload right after a restart does not abandon the replacement the
// restart began.
func (g *reloadGate) request(now time.Time, mode ReloadMode) (reload ReloadMode, ok bool) {
	if !g.pending && !now.Before(g.holdUntil) {
		g.mode = mode
		return mode, true
	}
	if mode == ReloadReplace {
		g.mode = ReloadReplace
	}
	g.pending = true
	return 0, false
}

// done records that a reload's fan-out ended at now: the hold starts.
func (g *reloadGate) done(now time.Time) {
	g.holdUntil = now.Add(reloadHoldoff)
}

// due returns the trailing reload once its hold has ended at now.
func (g *reloadGate) due(now time.Time) (reload ReloadMode, ok bool) {
	if !g.pending || now.Before(g.holdUntil) {
		return 0, false
	}
	g.pending = false
	return g.mode, true
}

// deadline is when the trailing reload is due; zero when none waits.
func (g *reloadGate) deadline() time.Time {
	if !g.pending {
		return time.Time{}
	}
	return g.holdUntil
}

// waiting reports whether a trailing reload is held back.
func (g *reloadGate) waiting() bool { return g.pending }

// cancel drops a held reload (the master is stopping).
func (g *reloadGate) cancel() { g.pending = false }
