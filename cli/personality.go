package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/logging"
	"github.com/pidone/pidone/spawn"
	"golang.org/x/sys/unix"
)

// Personalities: one binary, several names (busybox style). Installed or
// symlinked as tini, docker-init, dumb-init or catatonit, pidone takes that
// program's options, environment variables, output streams and exit codes
// (docs/personalities.md), and keeps its own reaper and signal handling
// underneath. A personality's parser is a pure function from argv and the
// environment to a peerCall, so the tests can hold it against the peer's
// documented behaviour without running anything.

// personality runs pidone as one peer.
type personality struct {
	name  string // the name pidone was invoked as (docker-init, tini, ...)
	argv0 string // argv[0] as invoked ("/usr/bin/tini"), which getopt's messages name
	parse func(argv0 string, args []string, env envFunc) peerCall
}

// envFunc is os.LookupEnv, or a table in the tests.
type envFunc func(key string) (string, bool)

// personalityOf returns the personality argv0 asks for, or nil for pidone's
// own.
func personalityOf(argv0 string) *personality {
	name := filepath.Base(argv0)
	switch name {
	case "tini", "tini-static", "docker-init":
		return &personality{name, argv0, parseTini}
	case "dumb-init":
		return &personality{name, argv0, parseDumbInit}
	case "catatonit":
		return &personality{name, argv0, parseCatatonit}
	}
	return nil
}

// peerCall is what a peer's command line asks for: a message and an exit
// code (help, version, licence, a usage error), or a supervisor run.
type peerCall struct {
	exit           bool // print stdout and stderr, then exit with code
	code           int
	stdout, stderr string

	cfg       supervisor.Config // Log is filled in by run
	logStyle  string
	logLevel  slog.Level
	pdeathsig unix.Signal
	// given are the options of pidone's (by long name) the peer's own
	// command line or variables decided, which PIDONE_ variables then do
	// not change (environment.go): "single-child", "pdeathsig",
	// "log-level".
	given map[string]bool
	// logFormat, if not "", is pidone's own log format (PIDONE_LOG_FORMAT),
	// in place of the peer's lines.
	logFormat string
	// startFailed is the peer's message and exit code for a command that
	// could not be started.
	startFailed func(*supervisor.StartError) (msg string, code int)
}

// usageExit is the peers' exit code for a bad command line (all three use 1).
const usageExit = 1

func printExit(code int, stdout, stderr string) peerCall {
	return peerCall{exit: true, code: code, stdout: stdout, stderr: stderr}
}

// config is what c asks pidone to do when it runs as p, with the options
// of pidone's that environ sets.
func (p *personality) config(c peerCall, environ []string) Config {
	if !c.exit {
		if err := c.applyEnvironment(environ); err != nil {
			// A bad PIDONE_* variable beside a usable
			// PIDONE_EXIT_REPORT (docker run --init -e ...) still
			// leaves a report (usagereport.go).
			out := Config{Mode: Print, Code: usageExit, Stderr: p.argv0 + ": " + err.Error() + "\n"}
			if path := reportFromEnvironment(environ); path != "" {
				out.ExitReport, out.Report = path, usageReport("single", p.name, usageExit, err.Error())
			}
			return out
		}
	}
	if c.exit {
		return Config{Mode: Print, Code: c.code, Stdout: c.stdout, Stderr: c.stderr}
	}
	log := logging.NewPeer(logging.Stderr(), c.logStyle, c.logLevel)
	if c.logFormat != "" {
		log = logging.New(logging.Options{Format: c.logFormat, Level: c.logLevel})
	}
	c.cfg.Log = log
	c.cfg.ChildSignals = childSignals(p.name, entry.Signals())
	c.cfg.Version, c.cfg.Personality = version, p.name
	return Config{
		Mode:              Supervise,
		Log:               log,
		ParentDeathSignal: c.pdeathsig,
		ParentDeathFailed: usageExit,
		Supervisor:        c.cfg,
		StartFailed: func(e *supervisor.StartError) int {
			msg, code := c.startFailed(e)
			log.Error(msg)
			return code
		},
	}
}

// standardSignals are 1-31.
const standardSignals = 1<<31 - 1

// jobControlSignals are TSTP, TTIN and TTOU.
const jobControlSignals = 1<<(unix.SIGTSTP-1) | 1<<(unix.SIGTTIN-1) | 1<<(unix.SIGTTOU-1)

// childSignals is the signal state the main child starts with when pidone
// runs as peer (docs/personalities.md has the table): tini and pidone's
// own mode pass on the mask and the SIG_IGN dispositions pidone inherited;
// catatonit blocks the job-control signals on top (it adds them to the mask
// it gives its child); dumb-init starts its child with an empty mask and
// signals 1-31 at SIG_DFL (it installs a handler for each, which exec
// resets), keeping an inherited SIG_IGN of 32-64.
func childSignals(peer string, in entry.Inherited) spawn.Signals {
	s := spawn.Signals{Mask: in.Mask, Ignored: in.Ignored, ParentIgnored: parentIgnored(in)}
	switch peer {
	case "dumb-init":
		s.Mask, s.Ignored = 0, in.Ignored&^standardSignals
	case "catatonit":
		s.Mask |= jobControlSignals
	}
	return s
}

// parentIgnored is what may be at SIG_IGN in pidone when it forks, which
// is all a child must reset (spawn.Signals): what pidone inherited ignored,
// which the runtime keeps for some signals, and what it ignores itself
// (forward.Catch). pidone sets SIG_IGN nowhere else. Without the entry's
// record of what was inherited, it is not known (0).
func parentIgnored(in entry.Inherited) uint64 {
	if !in.Exact {
		return 0
	}
	return in.Ignored | forward.IgnoredBySelf
}

// strerror renders a start failure's cause as C's strerror(3) does, which
// is what the peers print.
func strerror(e *supervisor.StartError) string {
	var errno syscall.Errno
	switch {
	case e.NotFound():
		errno = syscall.ENOENT
	case e.PermissionDenied():
		errno = syscall.EACCES
	case errors.As(e.Err, &errno):
	default:
		return e.Err.Error()
	}
	s := errno.Error()
	return strings.ToUpper(s[:1]) + s[1:]
}

// licence is what -l (tini) and -L (catatonit) print: pidone's licence
// statement, not the peer's, since it is pidone that runs. The full text is
// the LICENSE file shipped with the source and the release binaries.
func licence(as string) string {
	return fmt.Sprintf(`pidone %s, installed as %s.

Copyright The pidone Authors.
SPDX-License-Identifier: Apache-2.0

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this program except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
`, version, as)
}

// commit is the full hash of the commit pidone was built from, set by the
// Makefile (-X github.com/pidone/pidone/cli.commit, mk/version.sh --commit); empty in a build
// outside git or without make.
var commit string

// initCommit is the commit dockerd shows in `docker info` for the init
// binary: the one in pidone's version v, whose build metadata names it
// unless the tree is exactly a release ("0.1.0+g140e03a.dirty"; older
// builds used `git describe`: "v1.0-3-g140e03a-dirty"), else the stamped
// commit c (a release, "0.1.0"), else the version itself. moby's
// parseInitVersion needs it free of dots, and older releases slice their
// own commit id to its length, so it is kept to 7 characters.
func initCommit(v, c string) string {
	if h := buildHash(v); h != "" {
		return h[:7]
	}
	if h := describedHash(v); h != "" {
		return h[:7]
	}
	if h, ok := hashField(c, 0, '-'); ok {
		return h[:7]
	}
	v = strings.Map(func(r rune) rune {
		if r == '.' || r == ' ' || r == '\t' {
			return '-'
		}
		return r
	}, v)
	if len(v) > 7 {
		v = v[:7]
	}
	if v == "" {
		v = "unknown"
	}
	return v
}

// buildHash finds the commit in the semver build metadata mk/version.sh
// writes ("0.1.0+g140e03a", "0.1.0+g140e03a.dirty"): the identifier after
// "+g", up to the next '.'. It returns "" when there is none.
func buildHash(v string) string {
	_, meta, ok := strings.Cut(v, "+g")
	if !ok {
		return ""
	}
	h, _ := hashField(meta, 0, '.')
	return h
}

// describedHash finds the commit hash in a `git describe` result, or
// returns "": either the first field ("140e03a-dirty") or a field after "-g"
// ("v1.0-3-g140e03a"). The leftmost candidate wins, as it did when this was
// the regexp (?:^|-g)([0-9a-f]{7,40})(?:-|$), so odd tags give the same
// commit as before. Written out by hand so that the binary does not link
// regexp.
func describedHash(v string) string {
	if h, ok := hashField(v, 0, '-'); ok {
		return h
	}
	for i := 0; i+1 < len(v); i++ {
		if v[i] == '-' && v[i+1] == 'g' {
			if h, ok := hashField(v, i+2, '-'); ok {
				return h
			}
		}
	}
	return ""
}

// hashField returns the hash field that opens v[i:], if any: 7 to 40
// lowercase hex digits (git's default abbreviation up to a full SHA-1), then
// sep or the end. A longer run is not a SHA-1, so it is not cut down to fit.
func hashField(v string, i int, sep byte) (string, bool) {
	j := i
	for j < len(v) && (v[j] >= '0' && v[j] <= '9' || v[j] >= 'a' && v[j] <= 'f') {
		j++
	}
	if n := j - i; n < 7 || n > 40 || j < len(v) && v[j] != sep {
		return "", false
	}
	return v[i:j], true
}
