// Package kubernetes checks Kubernetes manifests that run pidone: the
// examples next to this file, and the YAML snippets of the docs
// (test/snippets). A manifest is decoded strictly into the real k8s.io/api
// types (an unknown or misspelt field, a wrong type or a duplicate key is
// an error), and what it asks of pidone is checked against pidone itself.
//
// It is a module of its own so that the Kubernetes API never becomes a
// dependency of pidone.
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// newObject returns an empty object of the kind a manifest names, for the
// kinds a pidone example may use.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 Pod":
		return &corev1.Pod{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "apps/v1 DaemonSet":
		return &appsv1.DaemonSet{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	case "batch/v1 CronJob":
		return &batchv1.CronJob{}, nil
	}
	return nil, fmt.Errorf("apiVersion %q kind %q is not a kind these checks know", apiVersion, kind)
}

// Decode decodes every document of a manifest strictly into its k8s.io/api
// type and returns the objects.
func Decode(data []byte) ([]any, error) {
	var objs []any
	for i, doc := range documents(data) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		obj, err := newObject(head.APIVersion, head.Kind)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i+1, head.Kind, err)
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no document")
	}
	return objs, nil
}

// IsObject reports whether a YAML text is a whole Kubernetes object (it
// names its apiVersion and kind at the top level) rather than an excerpt.
func IsObject(data []byte) bool {
	var head map[string]any
	if yaml.Unmarshal(data, &head) != nil {
		return false
	}
	_, v := head["apiVersion"]
	_, k := head["kind"]
	return v && k
}

// documents splits a YAML stream at its "---" lines, dropping empty
// documents.
func documents(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
	return docs
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// PodSpec returns the pod spec of an object that has one.
func PodSpec(obj any) (*corev1.PodSpec, bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.Spec, true
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec, true
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec, true
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec, true
	case *batchv1.Job:
		return &o.Spec.Template.Spec, true
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, true
	}
	return nil, false
}

// Pidone is a container's pidone invocation: argv is command then args,
// without /pidone; Options are what comes before "--", Command what comes
// after; Env the container's PIDONE_* variables (NAME=value), which pidone
// reads as options too.
type Pidone struct {
	Container string
	Options   []string
	Command   []string
	Env       []string
}

// PidoneOf returns the pidone invocation of a container whose command is
// /pidone, or false. It needs the "--" between pidone's options and the
// command (a manifest without one is refused by Check).
func PidoneOf(c corev1.Container) (Pidone, bool) {
	if len(c.Command) == 0 || filepath.Base(c.Command[0]) != "pidone" {
		return Pidone{}, false
	}
	argv := append(slices.Clone(c.Command[1:]), c.Args...)
	p := Pidone{Container: c.Name, Options: argv}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "PIDONE_") && e.ValueFrom == nil {
			p.Env = append(p.Env, e.Name+"="+e.Value)
		}
	}
	if end := slices.Index(argv, "--"); end >= 0 {
		p.Options, p.Command = argv[:end], argv[end+1:]
	}
	return p, true
}

// Value returns the value of a long option (--name V or --name=V), the last
// one if it is repeated, or "".
func (p Pidone) Value(name string) string {
	v := ""
	for i, o := range p.Options {
		switch {
		case o == "--"+name && i+1 < len(p.Options):
			v = p.Options[i+1]
		case strings.HasPrefix(o, "--"+name+"="):
			v = strings.TrimPrefix(o, "--"+name+"=")
		}
	}
	return v
}

// Has reports whether a long option is given (--name, --name V or
// --name=V), or its PIDONE_ variable with a value.
func (p Pidone) Has(name string) bool {
	for _, o := range p.Options {
		if o == "--"+name || strings.HasPrefix(o, "--"+name+"=") {
			return true
		}
	}
	env := "PIDONE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "="
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, env); ok && v != "" {
			return true
		}
	}
	return false
}

// Durations returns --grace (pidone's default 5s when not given) and the
// --delay of SIGTERM, the signal the kubelet sends (0 when not given).
func (p Pidone) Durations() (grace, termDelay time.Duration, err error) {
	grace = 5 * time.Second
	if v := p.Value("grace"); v != "" {
		if grace, err = time.ParseDuration(v); err != nil {
			return 0, 0, fmt.Errorf("--grace %q: %w", v, err)
		}
	}
	for i, o := range p.Options {
		v, ok := strings.CutPrefix(o, "--delay=")
		if o == "--delay" && i+1 < len(p.Options) {
			v, ok = p.Options[i+1], true
		}
		if !ok {
			continue
		}
		sig, d, _ := strings.Cut(v, ":")
		switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(sig), "SIG")) {
		case "TERM", "15":
			if termDelay, err = time.ParseDuration(d); err != nil {
				return 0, 0, fmt.Errorf("--delay %q: %w", v, err)
			}
		}
	}
	return grace, termDelay, nil
}

// RunPidone runs the real pidone binary with a container's options and the
// command `true`, as PID 1 of a fresh PID namespace, and returns an error
// unless it exits 0: pidone's own parser accepts what the manifest asks
// for. A --termination-log path is swapped for a file in dir (the
// manifest's is the kubelet's /dev/termination-log), which must then hold
// pidone's line.
func RunPidone(pidone, dir string, p Pidone) error {
	r, err := Exec(pidone, dir, p, "true")
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("pidone %q -- true: exit status %d\n%s", p.Options, r.Code, r.Output)
	}
	if r.TerminationLogPath != "" && strings.TrimSpace(r.TerminationLog) == "" {
		return fmt.Errorf("pidone %q -- true wrote no termination log", p.Options)
	}
	return nil
}

// Run is what one pidone run did.
type Run struct {
	Code int // pidone's exit status
	// TerminationLog is what pidone wrote to its --termination-log, at
	// TerminationLogPath (in Exec's dir; "" without the option).
	TerminationLog, TerminationLogPath string
	Output                             []byte // stdout and stderr
}

// Exec runs the real pidone binary with a container's options and
// variables over command, as PID 1 of a fresh PID namespace with a /proc
// of its own (as in a pod), a --termination-log swapped for a file in dir.
// The error is for a run that could not happen, not for an exit status.
func Exec(pidone, dir string, p Pidone, command ...string) (Run, error) {
	opts := slices.Clone(p.Options)
	var r Run
	for i, o := range opts {
		switch {
		case o == "--termination-log" && i+1 < len(opts):
			r.TerminationLogPath = filepath.Join(dir, "termination-log")
			opts[i+1] = r.TerminationLogPath
		case strings.HasPrefix(o, "--termination-log="):
			r.TerminationLogPath = filepath.Join(dir, "termination-log")
			opts[i] = "--termination-log=" + r.TerminationLogPath
		}
	}
	args := append([]string{"--pid", "--fork", "--mount-proc", pidone}, opts...)
	args = append(append(args, "--"), command...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), p.Env...)
	out, err := cmd.CombinedOutput()
	r.Output = out
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		return r, fmt.Errorf("unshare pidone %q -- %q: %v\n%s", p.Options, command, err, out)
	}
	if r.TerminationLogPath != "" {
		b, err := os.ReadFile(r.TerminationLogPath)
		if err != nil && !os.IsNotExist(err) {
			return r, err
		}
		r.TerminationLog = string(b)
	}
	return r, nil
}

// Check checks what a pod spec asks of pidone, for every container (init
// containers and native sidecars included) whose command is /pidone:
//   - an explicit "--" between pidone's options and an absolute command;
//   - the grace arithmetic: the kubelet's SIGKILL comes
//     terminationGracePeriodSeconds after the pod's deletion; before pidone
//     can exit, a preStop sleep, the --delay of SIGTERM and --grace must
//     all pass, and a second is left for pidone's own exit. A native
//     sidecar (an init container with restartPolicy Always) gets SIGTERM
//     only once the regular containers have exited, so its time comes on
//     top of theirs;
//   - --termination-log is where the kubelet reads the message
//     (terminationMessagePath) and terminationMessagePolicy is set.
//
// It returns the pidone invocations it found.
func Check(spec *corev1.PodSpec) ([]Pidone, error) {
	kubelet := 30 * time.Second // the API's default
	if spec.TerminationGracePeriodSeconds != nil {
		kubelet = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	var found []Pidone
	// stopTime is how long a container may take to stop, and its formula.
	stopTime := func(c corev1.Container) (time.Duration, string, error) {
		var preStop time.Duration
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		p, ok := PidoneOf(c)
		if !ok {
			return preStop, fmt.Sprintf("preStop %v", preStop), nil
		}
		found = append(found, p)
		if !slices.Contains(append(slices.Clone(c.Command), c.Args...), "--") {
			return 0, "", fmt.Errorf("container %s: no \"--\" between pidone's options and the command", c.Name)
		}
		if len(p.Command) == 0 || !strings.HasPrefix(p.Command[0], "/") {
			return 0, "", fmt.Errorf("container %s: pidone runs %q, want an absolute command path", c.Name, p.Command)
		}
		grace, delay, err := p.Durations()
		if err != nil {
			return 0, "", fmt.Errorf("container %s: %w", c.Name, err)
		}
		if path := p.Value("termination-log"); path != "" {
			want := c.TerminationMessagePath
			if want == "" {
				want = corev1.TerminationMessagePathDefault
			}
			if path != want {
				return 0, "", fmt.Errorf("container %s: --termination-log %s, but the kubelet reads %s", c.Name, path, want)
			}
			if c.TerminationMessagePolicy == "" {
				return 0, "", fmt.Errorf("container %s: --termination-log without terminationMessagePolicy", c.Name)
			}
		}
		return preStop + delay + grace, fmt.Sprintf("preStop %v + --delay TERM %v + --grace %v", preStop, delay, grace), nil
	}
	var regular time.Duration
	for _, c := range spec.Containers {
		d, formula, err := stopTime(c)
		if err != nil {
			return nil, err
		}
		if d+time.Second > kubelet {
			return nil, fmt.Errorf("container %s: %s + 1s = %v, more than terminationGracePeriodSeconds %v", c.Name, formula, d+time.Second, kubelet)
		}
		regular = max(regular, d)
	}
	for _, c := range spec.InitContainers {
		d, formula, err := stopTime(c)
		if err != nil {
			return nil, err
		}
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			continue // a plain init container has exited before the pod can stop
		}
		if regular+d+time.Second > kubelet {
			return nil, fmt.Errorf("sidecar %s: the regular containers' %v, then its own %s, + 1s = %v: more than terminationGracePeriodSeconds %v",
				c.Name, regular, formula, regular+d+time.Second, kubelet)
		}
	}
	return found, nil
}
