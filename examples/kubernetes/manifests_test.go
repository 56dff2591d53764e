// Package kubernetes checks the example manifests next to it: that they are
// valid YAML for the fields they use (parsed strictly: an unknown or
// misspelt field, a duplicate key or a second document is an error), and
// that what they say about pidone holds: pidone is the command, its grace
// period ends before the kubelet's, and the sidecar pod shares its PID
// namespace.
//
// It is a module of its own so that the YAML parser never becomes a
// dependency of pidone itself.
package kubernetes

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The subset of the Kubernetes API the examples use, with its field names.
// A field missing here fails the strict parse: add it when an example
// needs it.

type objectMeta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type container struct {
	Name    string          `yaml:"name"`
	Image   string          `yaml:"image"`
	Command []string        `yaml:"command"`
	Args    []string        `yaml:"args"`
	Ports   []containerPort `yaml:"ports"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int64      `yaml:"terminationGracePeriodSeconds"`
	ShareProcessNamespace         *bool       `yaml:"shareProcessNamespace"`
	Containers                    []container `yaml:"containers"`
}

type podTemplate struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     podSpec    `yaml:"spec"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type deploymentSpec struct {
	Replicas *int32        `yaml:"replicas"`
	Selector labelSelector `yaml:"selector"`
	Template podTemplate   `yaml:"template"`
}

type deployment struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   objectMeta     `yaml:"metadata"`
	Spec       deploymentSpec `yaml:"spec"`
}

type pod struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       podSpec    `yaml:"spec"`
}

// decodeStrict parses file, which must hold exactly one YAML document,
// into v, rejecting fields v does not have.
func decodeStrict(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: want exactly one YAML document, found more (err %v)", file, err)
	}
}

// pidoneCommand is a container's pidone invocation: its options, up to
// "--", and the command it runs (the rest of command, then args).
type pidoneCommand struct {
	options []string
	child   []string
	grace   time.Duration
	hasW    bool
}

// parsePidone reads the pidone options the examples use; any other option
// fails the test, so a typo cannot hide.
func parsePidone(t *testing.T, c container) pidoneCommand {
	t.Helper()
	if len(c.Command) == 0 || c.Command[0] != "/pidone" {
		t.Fatalf("container %s: command %q does not start with /pidone", c.Name, c.Command)
	}
	argv := append(slices.Clone(c.Command[1:]), c.Args...)
	end := slices.Index(argv, "--")
	if end < 0 {
		t.Fatalf("container %s: %q has no \"--\" between pidone's options and the command", c.Name, argv)
	}
	p := pidoneCommand{options: argv[:end], child: argv[end+1:]}
	for i := 0; i < len(p.options); i++ {
		opt := p.options[i]
		switch {
		case opt == "-w" || opt == "--warn-on-reap":
			p.hasW = true
		case opt == "--grace" || strings.HasPrefix(opt, "--grace="):
			v, ok := strings.CutPrefix(opt, "--grace=")
			if !ok {
				if i+1 >= len(p.options) {
					t.Fatalf("container %s: --grace without a value", c.Name)
				}
				i++
				v = p.options[i]
			}
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				t.Fatalf("container %s: --grace %q is not a positive duration", c.Name, v)
			}
			p.grace = d
		default:
			t.Fatalf("container %s: pidone option %q is not one the examples are checked for", c.Name, opt)
		}
	}
	if len(p.child) == 0 || !strings.HasPrefix(p.child[0], "/") {
		t.Fatalf("container %s: pidone runs %q, want an absolute command path", c.Name, p.child)
	}
	return p
}

// graceBelowKubelet checks that pidone's grace period ends before the
// kubelet's SIGKILL, with a second to spare for pidone's own exit.
func graceBelowKubelet(t *testing.T, spec podSpec, p pidoneCommand) {
	t.Helper()
	if spec.TerminationGracePeriodSeconds == nil {
		t.Fatal("terminationGracePeriodSeconds is not set: the examples state it next to --grace")
	}
	kubelet := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	if p.grace == 0 {
		t.Fatal("pidone --grace is not set: the examples state it next to terminationGracePeriodSeconds")
	}
	if p.grace+time.Second > kubelet {
		t.Errorf("pidone --grace %v does not end a second before terminationGracePeriodSeconds %v", p.grace, kubelet)
	}
}

func TestDeployment(t *testing.T) {
	var d deployment
	decodeStrict(t, "deployment.yaml", &d)
	if d.APIVersion != "apps/v1" || d.Kind != "Deployment" {
		t.Fatalf("got %s %s, want apps/v1 Deployment", d.APIVersion, d.Kind)
	}
	if len(d.Spec.Selector.MatchLabels) == 0 {
		t.Error("spec.selector.matchLabels is empty")
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, d.Spec.Template.Metadata.Labels)
		}
	}
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(spec.Containers))
	}
	p := parsePidone(t, spec.Containers[0])
	graceBelowKubelet(t, spec, p)
	if spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace {
		t.Error("the Deployment example shares the PID namespace: pidone would not be PID 1")
	}
}

func TestSidecarPod(t *testing.T) {
	var p pod
	decodeStrict(t, "sidecar-pod.yaml", &p)
	if p.APIVersion != "v1" || p.Kind != "Pod" {
		t.Fatalf("got %s %s, want v1 Pod", p.APIVersion, p.Kind)
	}
	if p.Spec.ShareProcessNamespace == nil || !*p.Spec.ShareProcessNamespace {
		t.Fatal("shareProcessNamespace is not true: pidone would be PID 1, not a sidecar subreaper")
	}
	var sidecars []container
	for _, c := range p.Spec.Containers {
		if len(c.Command) > 0 && c.Command[0] == "/pidone" {
			sidecars = append(sidecars, c)
		}
	}
	if len(sidecars) != 1 || len(p.Spec.Containers) < 2 {
		t.Fatalf("want one pidone sidecar beside other containers, got %d of %d containers", len(sidecars), len(p.Spec.Containers))
	}
	cmd := parsePidone(t, sidecars[0])
	if !cmd.hasW {
		t.Error("the sidecar's pidone has no -w: the example says it logs every reaped orphan")
	}
	graceBelowKubelet(t, p.Spec, cmd)
}
