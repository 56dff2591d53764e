package kubernetes

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// pidoneBin is the real static binary (make build). The check runs it, so
// it is required: without it the examples' pidone options would go
// unchecked.
func pidoneBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PIDONE_BIN")
	if bin == "" {
		bin, _ = filepath.Abs("../../bin/pidone")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("pidone binary %s: %v (run through `make k8s-examples`, or set PIDONE_BIN)", bin, err)
	}
	return bin
}

// TestExamples decodes every manifest here strictly into the k8s.io/api
// types and checks it against pidone itself and the conventions the
// examples stand for.
func TestExamples(t *testing.T) {
	bin := pidoneBin(t)
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests found (%v)", err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := Decode(data)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, obj := range objs {
				spec, ok := PodSpec(obj)
				if !ok {
					continue
				}
				invocations, err := Check(spec)
				if err != nil {
					t.Errorf("%s: %v", file, err)
				}
				if len(invocations) == 0 {
					t.Errorf("%s: no container runs /pidone", file)
				}
				for _, p := range invocations {
					if err := RunPidone(bin, t.TempDir(), p); err != nil {
						t.Errorf("%s: container %s: %v", file, p.Container, err)
					}
				}
				restricted(t, file, spec)
			}
		})
	}
}

// restricted checks the Pod Security Standard "restricted" fields and
// resources on every container: the examples are what people copy.
func restricted(t *testing.T, file string, spec *corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	podNonRoot := psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	podSeccomp := psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: container %s has no securityContext", file, c.Name)
			continue
		}
		checks := []struct {
			ok   bool
			what string
		}{
			{podNonRoot || sc.RunAsNonRoot != nil && *sc.RunAsNonRoot, "runAsNonRoot: true"},
			{podSeccomp || sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault, "seccompProfile RuntimeDefault"},
			{sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "allowPrivilegeEscalation: false"},
			{sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "readOnlyRootFilesystem: true"},
			{sc.Capabilities != nil && len(sc.Capabilities.Drop) == 1 && sc.Capabilities.Drop[0] == "ALL", "capabilities drop ALL"},
			{len(c.Resources.Requests) > 0 && c.Resources.Limits.Memory() != nil && !c.Resources.Limits.Memory().IsZero(), "resource requests and a memory limit"},
		}
		for _, ch := range checks {
			if !ch.ok {
				t.Errorf("%s: container %s lacks %s", file, c.Name, ch.what)
			}
		}
	}
}

// The sidecar example is what its comment says: a shared PID namespace and
// pidone in a native sidecar.
func TestSidecarPodIsANativeSidecarInASharedPIDNamespace(t *testing.T) {
	data, err := os.ReadFile("sidecar-pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	pod, ok := objs[0].(*corev1.Pod)
	if !ok || len(objs) != 1 {
		t.Fatalf("sidecar-pod.yaml: want one Pod, got %T (%d objects)", objs[0], len(objs))
	}
	if pod.Spec.ShareProcessNamespace == nil || !*pod.Spec.ShareProcessNamespace {
		t.Error("shareProcessNamespace is not true: pidone would be PID 1, not a subreaper")
	}
	native := 0
	for _, c := range pod.Spec.InitContainers {
		p, isPidone := PidoneOf(c)
		if isPidone && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			native++
			if !slices.Contains(p.Options, "-w") && !slices.Contains(p.Options, "--warn-on-reap") {
				t.Errorf("sidecar %s: no -w, but the comment says it logs every reaped orphan", c.Name)
			}
		}
	}
	if native != 1 {
		t.Errorf("want one native sidecar (init container, restartPolicy Always) running pidone, got %d", native)
	}
}

// Check refuses what it is there to catch: each case breaks one rule of a
// correct pod spec.
func TestCheckRefuses(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	seconds := func(n int64) *int64 { return &n }
	app := func(command ...string) corev1.Container {
		return corev1.Container{Name: "app", Command: command, Args: []string{"/app"}}
	}
	tests := []struct {
		doc  string
		spec corev1.PodSpec
		want string // in the error; "" for none
	}{
		{"fits", corev1.PodSpec{TerminationGracePeriodSeconds: seconds(30),
			Containers: []corev1.Container{app("/pidone", "--delay", "TERM:5s", "--grace", "20s", "--")}}, ""},
		{"grace plus delay too long", corev1.PodSpec{TerminationGracePeriodSeconds: seconds(30),
			Containers: []corev1.Container{app("/pidone", "--delay", "SIGTERM:10s", "--grace=20s", "--")}}, "more than terminationGracePeriodSeconds"},
		{"default grace against the default period", corev1.PodSpec{
			Containers: []corev1.Container{app("/pidone", "--")}}, ""},
		{"no --", corev1.PodSpec{Containers: []corev1.Container{app("/pidone", "-w")}}, `no "--"`},
		{"relative command", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Command: []string{"/pidone", "--", "app"}}}}, "absolute command path"},
		{"termination log without policy", corev1.PodSpec{
			Containers: []corev1.Container{app("/pidone", "--termination-log", "/dev/termination-log", "--")}}, "without terminationMessagePolicy"},
		{"termination log elsewhere", corev1.PodSpec{
			Containers: []corev1.Container{func() corev1.Container {
				c := app("/pidone", "--termination-log", "/tmp/x", "--")
				c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
				return c
			}()}}, "the kubelet reads /dev/termination-log"},
		{"sidecar after the app does not fit", corev1.PodSpec{TerminationGracePeriodSeconds: seconds(30),
			InitContainers: []corev1.Container{{Name: "side", RestartPolicy: &always, Command: []string{"/pidone", "--grace", "10s", "--", "/side"}}},
			Containers:     []corev1.Container{app("/pidone", "--grace", "20s", "--")}}, "sidecar side"},
		{"preStop sleep counts", corev1.PodSpec{TerminationGracePeriodSeconds: seconds(30),
			Containers: []corev1.Container{func() corev1.Container {
				c := app("/pidone", "--grace", "20s", "--")
				c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 10}}}
				return c
			}()}}, "preStop 10s"},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			_, err := Check(&tt.spec)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// Strict decoding catches what a hand-written check would miss.
func TestDecodeIsStrict(t *testing.T) {
	tests := []struct{ doc, yaml, want string }{
		{"misspelt field", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      comand: [x]\n", `unknown field "comand"`},
		{"wrong type", "apiVersion: v1\nkind: Pod\nspec:\n  terminationGracePeriodSeconds: soon\n", "terminationGracePeriodSeconds"},
		{"duplicate key", "apiVersion: v1\nkind: Pod\nkind: Pod\n", `"kind" already set`},
		{"unknown kind", "apiVersion: v1\nkind: Teapot\n", "not a kind"},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Decode: %v, want an error containing %q", tt.doc, err, tt.want)
		}
	}
}

// RunPidone is only a check if pidone's parser can refuse: a misspelt
// option must fail it.
func TestRunPidoneRefusesWhatPidoneRefuses(t *testing.T) {
	bin := pidoneBin(t)
	for _, opts := range [][]string{{"--grce", "20s"}, {"--delay", "TERM"}, {"--grace", "-1s"}} {
		if err := RunPidone(bin, t.TempDir(), Pidone{Options: opts}); err == nil {
			t.Errorf("RunPidone with %q: no error, want pidone's usage error", opts)
		}
	}
	if err := RunPidone(bin, t.TempDir(), Pidone{Options: []string{"--termination-log", "/dev/termination-log"}}); err != nil {
		t.Errorf("RunPidone with a termination log: %v", err)
	}
}

// The test Job is what its comment says: one failed pod fails it
// (restartPolicy Never, backoffLimit 0), and pidone, run with the Job's
// options, exits 122 with the verdict in the termination log when the
// command leaves a process behind, and 0 with "clean" when it does not.
func TestE2EJobFailsOnLeftovers(t *testing.T) {
	bin := pidoneBin(t)
	data, err := os.ReadFile("e2e-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	job, ok := objs[0].(*batchv1.Job)
	if !ok || len(objs) != 1 {
		t.Fatalf("e2e-job.yaml: want one Job, got %T (%d objects)", objs[0], len(objs))
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 {
		t.Errorf("backoffLimit %v, want 0: a retry would hide the failure", job.Spec.BackoffLimit)
	}
	if rp := job.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never: the kubelet would restart the container in the same pod", rp)
	}
	var runs []Pidone
	for _, c := range job.Spec.Template.Spec.Containers {
		if p, ok := PidoneOf(c); ok {
			runs = append(runs, p)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("want one container running pidone, got %d", len(runs))
	}
	p := runs[0]
	if !p.Has("fail-on-leftovers") || !p.Has("termination-log") {
		t.Fatalf("container %s: pidone %q (env %q), want --fail-on-leftovers (or PIDONE_FAIL_ON_LEFTOVERS) and --termination-log", p.Container, p.Options, p.Env)
	}
	for _, tc := range []struct {
		doc     string
		command []string
		code    int
		verdict string
	}{
		{"a test that leaves a sleeper behind", []string{"sh", "-c", "sleep 60 & exit 0"}, 122, "1 leftover: main child exited with status 0"},
		{"a clean test", []string{"sh", "-c", "exit 0"}, 0, "clean: main child exited with status 0"},
		{"a failing test, nothing left", []string{"sh", "-c", "exit 1"}, 1, "clean: main child exited with status 1"},
	} {
		r, err := Exec(bin, t.TempDir(), p, tc.command...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != tc.code || !strings.HasPrefix(r.TerminationLog, tc.verdict) {
			t.Errorf("%s: exit status %d, termination log %q; want %d and %q\n%s", tc.doc, r.Code, r.TerminationLog, tc.code, tc.verdict, r.Output)
		}
	}
}

// Has sees an option on the command line and in the environment, and an
// empty variable as unset (as pidone does).
func TestHas(t *testing.T) {
	for _, tc := range []struct {
		p    Pidone
		want bool
	}{
		{Pidone{Options: []string{"--fail-on-leftovers"}}, true},
		{Pidone{Options: []string{"--fail-on-leftovers=7"}}, true},
		{Pidone{Env: []string{"PIDONE_FAIL_ON_LEFTOVERS=true"}}, true},
		{Pidone{Env: []string{"PIDONE_FAIL_ON_LEFTOVERS="}}, false},
		{Pidone{Options: []string{"--fail-on-leftovers-not"}}, false},
		{Pidone{}, false},
	} {
		if got := tc.p.Has("fail-on-leftovers"); got != tc.want {
			t.Errorf("%+v: Has = %v, want %v", tc.p, got, tc.want)
		}
	}
}
