package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/workers"
	"golang.org/x/sys/unix"
)

// Workers mode (docs/workers.md): `pidone --workers N|auto [options] --
// command`, `pidone --config FILE`, `pidone --spec BUNDLE`, and the control
// verbs `pidone ctl VERB`. Its options join the table at start-up, after
// pidone's own, and fill settings.workers.

func init() {
	pidoneOptions = append(pidoneOptions, workerOptions...)
}

// workerOpts returns the workers options of s, created with their defaults
// when the first workers option is seen.
func workerOpts(s *settings) *workers.Options {
	if s.workers == nil {
		o := workers.DefaultOptions()
		s.workers = &o
	}
	return s.workers
}

// workerOption builds a table entry whose value goes through parse.
func workerOption[T any](long, value, help string, parse func(string) (T, error), set func(*workers.Options, T)) option {
	return option{0, long, value, help, func(s *settings, v string) error {
		x, err := parse(v)
		if err == nil {
			set(workerOpts(s), x)
		}
		return err
	}}
}

// parsePath reads an option's path: an empty one is a mistake (an unset
// shell variable, --pidfile "$PIDFILE"), never a way to say "none".
func parsePath(s string) (string, error) {
	if s == "" {
		return "", errors.New("the path is empty")
	}
	return s, nil
}

// parseCatchable reads a signal the master must receive itself.
func parseCatchable(s string) (unix.Signal, error) {
	sig, err := forward.Parse(s)
	if err == nil && !forward.Forwardable(sig) {
		err = fmt.Errorf("%s cannot be caught by pidone", forward.Name(sig))
	}
	return sig, err
}

var workerOptions = []option{
	workerOption("workers", "N|auto", "workers mode: keep N workers of the command running (auto: the CPUs this container may use)",
		workers.ParseCount, func(o *workers.Options, c workers.Count) { o.Count = c }),
	workerOption("config", "FILE", "workers mode: the worker groups of a JSON file (docs/workers.md)",
		parsePath, func(o *workers.Options, p string) { o.ConfigPath = p }),
	workerOption("spec", "BUNDLE", "workers mode: run the process of an OCI bundle's config.json (file or bundle directory)",
		parsePath, func(o *workers.Options, p string) { o.SpecPath = p }),
	workerOption("pidfile", "PATH", "workers mode: write the master's pid to PATH, locked through PATH.lock",
		parsePath, func(o *workers.Options, p string) { o.Pidfile = p }),
	workerOption("restart", "POLICY", "respawn a worker after always (default), on-failure or never",
		workers.ParseRestart, func(o *workers.Options, r workers.Restart) { o.Policy.Restart = r }),
	workerOption("throttle", "RULE", "respawn pacing: backoff (default) or hmain (libhv's rule)",
		workers.ParseThrottle, func(o *workers.Options, t workers.Throttle) { o.Policy.Throttle = t }),
	workerOption("backoff-min", "DURATION", "delay before the second respawn in a row (default 100ms; the first is immediate)",
		workers.ParseDuration, func(o *workers.Options, d time.Duration) { o.Policy.BackoffMin = d }),
	workerOption("backoff-max", "DURATION", "longest respawn delay (default 30s)",
		workers.ParseDuration, func(o *workers.Options, d time.Duration) { o.Policy.BackoffMax = d }),
	workerOption("backoff-reset", "DURATION", "uptime after which the delay starts over (default 60s)",
		workers.ParseDuration, func(o *workers.Options, d time.Duration) { o.Policy.BackoffReset = d }),
	workerOption("give-up", "COUNT/WINDOW", "give a slot up after COUNT deaths within WINDOW, like 5/60s (default off)",
		workers.ParseGiveUp, func(o *workers.Options, g workers.GiveUp) { o.Policy.GiveUp = g }),
	workerOption("fatal-exit", "CODES", "give a slot up at once when its worker exits with one of CODES (3,78; repeatable)",
		workers.ParseCodes, func(o *workers.Options, c []int) { o.Policy.FatalExit = append(o.Policy.FatalExit, c...) }),
	workerOption("reload", "MODE", "on the reload signal: signal (default) every worker, or replace them (new generation, then stop the old)",
		workers.ParseReload, func(o *workers.Options, m workers.ReloadMode) { o.Reload = m }),
	workerOption("reload-signal", "SIG", "the signal that reloads (default HUP; USR1 for hmain-style apps)",
		parseCatchable, func(o *workers.Options, s unix.Signal) { o.ReloadSignal = s }),
	workerOption("restart-signal", "SIG", "the signal that replaces every worker, as pidone ctl restart does (default USR2)",
		parseCatchable, func(o *workers.Options, s unix.Signal) { o.RestartSignal = s }),
	workerOption("ready-after", "DURATION", "a new worker counts as up after this long (default 1s; --reload replace waits for it)",
		workers.ParseDuration, func(o *workers.Options, d time.Duration) { o.ReadyAfter = d }),
	workerOption("ready", "MODE", "when a new worker counts as up: after (default; --ready-after) or notify (it sends READY=1 to NOTIFY_SOCKET)",
		workers.ParseReady, func(o *workers.Options, notify bool) { o.ReadyNotify = notify }),
	workerOption("ready-timeout", "DURATION", "with --ready notify: a worker not ready this long after its start failed to start (default 60s; 0: no limit)",
		workers.ParseDuration, func(o *workers.Options, d time.Duration) { o.ReadyTimeout = d }),
	workerOption("listen", "[NAME=]SPEC", "bind SPEC (tcp:HOST:PORT, tcp6:[HOST]:PORT, udp:HOST:PORT, unix:/PATH[,mode=0660]) before any worker starts; every worker gets it as fd 3.. (LISTEN_FDS); repeatable",
		workers.ParseListen, func(o *workers.Options, l workers.ListenSpec) { o.Listen = append(o.Listen, l) }),
	workerOption("stop-signal", "SIG", "the signal that asks a worker to stop (default TERM)",
		forward.Parse, func(o *workers.Options, s unix.Signal) { o.StopSignal = s }),
	// --grace is pidone's own option (options.go), read in workersConfig:
	// a stopping worker has that long before SIGKILL.
}

// workersConfig is the master's configuration: the workers options with
// pidone's own that apply (--grace: a stopping worker has that long before
// SIGKILL; -w).
func (s *settings) workersConfig(log *slog.Logger) workers.Config {
	o := *s.workers
	o.Command = s.command
	if s.graceSet {
		o.Grace = s.grace
	}
	return workers.Config{Options: o, WarnOnReap: s.warnOnReap, Log: log, ChildSignals: childSignals("pidone", entry.Signals()),
		ExitReport: s.exitReport, Version: version, Personality: "pidone",
		FailOnLeftovers: s.failOnLeftovers, LeftoversCode: s.exitCodeOnLeftovers()}
}

// workersNeedNoCommand reports whether the command may be missing: a
// configuration file or a bundle names it.
func (s *settings) workersNeedNoCommand() bool {
	return s.workers != nil && (s.workers.ConfigPath != "" || s.workers.SpecPath != "")
}
