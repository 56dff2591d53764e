package workers

import (
	"errors"
	"os"
	"strings"
	"time"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/exitreport"
)

// Workers mode's exit report and leftovers policy (issue 21,
// docs/exit-report.md). The leftovers are the processes alive below the
// master when its stop began (Remainder.StopBegan, from m.stop), other than
// the live workers and the members of their process groups, which the stop
// of each worker's group reaches: a setsid daemon is one, a worker's child
// in its group is not. With no stop (every slot given up or finished) no
// worker is alive, and the leftovers are what the Remainder finds before
// it stops them.

// finishReport decides pidone's exit code (--fail-on-leftovers) and writes
// the exit report if one is wanted. err is run's error: main maps it to the
// exit code (ExitCode), and the policy never overrides that.
func finishReport(cfg Config, start time.Time, m *master, rest *supervisor.Remainder, code int, err error) int {
	reason, msg := outcome(m, code, err)
	if err != nil {
		code = ExitCode(err)
	} else if cfg.FailOnLeftovers && rest.Count() > 0 {
		code, reason = cfg.LeftoversCode, exitreport.ReasonLeftovers
	}
	if cfg.ExitReport == "" {
		return code
	}
	r := &exitreport.Report{
		Schema: exitreport.Schema, Version: cfg.Version, Mode: "workers", Personality: cfg.Personality,
		PID1: os.Getpid() == 1, ExitCode: code, ExitReason: reason, Error: msg,
	}
	rest.Fill(r)
	if m != nil {
		r.Workers = m.reportWorkers()
		if m.stopRequest != 0 {
			r.StopRequest = &exitreport.Signal{Name: forward.Name(m.stopRequest), Number: int(m.stopRequest)}
		}
	}
	if r.StopRequest == nil {
		r.StopRequest = rest.StopRequest()
	}
	r.Times(start, time.Now())
	if werr := exitreport.Write(cfg.ExitReport, r); werr != nil {
		cfg.Log.Warn("cannot write the exit report; the exit code is unchanged", "path", cfg.ExitReport, "error", werr)
	}
	return code
}

// outcome is the report's exit reason for run's result, and the error's
// message for the reasons that have one.
func outcome(m *master, code int, err error) (reason, msg string) {
	var ce *ConfigError
	var ue *UnsafePathError
	var re *RunningError
	switch {
	case err != nil && (errors.As(err, &ce) || errors.As(err, &ue)):
		return exitreport.ReasonUsage, errLine(err)
	case err != nil && errors.As(err, &re):
		return exitreport.ReasonRunning, errLine(err)
	case err != nil:
		return exitreport.ReasonInternal, errLine(err)
	case m != nil && m.stopRequest != 0:
		return exitreport.ReasonStopRequest, ""
	case code == ExitGaveUp:
		return exitreport.ReasonGaveUp, ""
	}
	return exitreport.ReasonFinished, ""
}

// reportWorkers lists every slot of the serving generation and of a
// replacement, as ctl status lists them.
func (m *master) reportWorkers() []exitreport.Worker {
	var out []exitreport.Worker
	for _, gs := range [][]*group{m.cur, m.next} {
		for _, g := range gs {
			for _, w := range g.workers {
				out = append(out, exitreport.Worker{Group: w.Group, Slot: w.Index, Generation: w.Gen,
					Starts: w.Spawns, Crashes: w.Crashes, GivenUp: w.GaveUp, Reason: givenUpReason(w)})
			}
		}
	}
	return out
}

// givenUpReason is why a given-up slot was given up, else "".
func givenUpReason(w *worker) string {
	if !w.GaveUp {
		return ""
	}
	return w.Reason
}

// errLine is err's message on one line, whole.
func errLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
