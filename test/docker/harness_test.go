package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pidone/pidone/test/internal/lines"
	"github.com/pidone/pidone/test/internal/poll"
)

// Deadlines are generous: other test tiers may be loading both cores while
// this one runs, and a slow container start is not what these tests are about.
const (
	cliTimeout  = 2 * time.Minute  // any one docker command
	lineTimeout = 60 * time.Second // a line a container is expected to print
	settleLimit = 60 * time.Second // reaping to finish after a storm
)

// testLabel marks every container and image this tier creates; ownerLabel
// holds the pid of the `go test` process that made it, so a run removes
// what a dead run left behind but never what a concurrent run is using.
const (
	testLabel  = "pidone-test"
	ownerLabel = "pidone-test.owner"
)

// result is one finished docker command.
type result struct {
	args           []string
	stdout, stderr string
	code           int // the CLI's exit status; -1 if it did not run
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("docker %s: exit %d\nstdout: %s\nstderr: %s",
		strings.Join(r.args, " "), r.code, strings.TrimSpace(r.stdout), strings.TrimSpace(r.stderr))
}

// docker runs the docker CLI to completion. It does not fail the test on a
// non-zero exit: callers decide, since several cases expect one.
func docker(t testing.TB, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.code = exit.ExitCode()
	default:
		r.code = -1
		t.Fatalf("docker %s: %v (after %v)\nstderr: %s", strings.Join(args, " "), err, r.elapsed.Round(time.Millisecond), r.stderr)
	}
	return r
}

// mustDocker runs the docker CLI and fails the test unless it exits 0.
func mustDocker(t testing.TB, args ...string) string {
	t.Helper()
	r := docker(t, args...)
	if r.code != 0 {
		t.Fatal(r)
	}
	return r.stdout
}

// labels are the docker options that mark a container or image as ours.
func labels() []string {
	return []string{"--label", testLabel + "=1", "--label", ownerLabel + "=" + strconv.Itoa(os.Getpid())}
}

// removeStale removes the containers and images of earlier runs whose
// `go test` process is gone (killed before its cleanup could run).
func removeStale(t *testing.T) {
	t.Helper()
	stale := func(owner string) bool {
		pid, err := strconv.Atoi(owner)
		switch {
		case err != nil || pid <= 0:
			return true // made by hand, or by a run from before the owner label
		case pid == os.Getpid():
			return false
		}
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	format := `{{.ID}} {{.Label "` + ownerLabel + `"}}`
	var containers, images []string
	for _, line := range strings.Split(mustDocker(t, "ps", "-a", "--filter", "label="+testLabel, "--format", format), "\n") {
		if id, owner, _ := strings.Cut(line, " "); id != "" && stale(owner) {
			containers = append(containers, id)
		}
	}
	if len(containers) > 0 {
		t.Logf("removing %d containers left by earlier runs", len(containers))
		docker(t, append([]string{"rm", "-f", "-v"}, containers...)...)
	}
	imgFormat := `{{.ID}} {{index .Config.Labels "` + ownerLabel + `"}}`
	for _, id := range strings.Fields(mustDocker(t, "images", "-q", "--no-trunc", "--filter", "label="+testLabel)) {
		r := docker(t, "image", "inspect", "--format", imgFormat, id)
		if _, owner, _ := strings.Cut(strings.TrimSpace(r.stdout), " "); r.code == 0 && stale(owner) {
			images = append(images, id)
		}
	}
	if len(images) > 0 {
		t.Logf("removing %d images left by earlier runs", len(images))
		docker(t, append([]string{"rmi", "-f"}, images...)...)
	}
}

// container is one container this run created; it is removed (with its
// anonymous volumes) when the test that created it ends, pass or fail.
type container struct {
	name string
	// stdout and stderr follow the container's output (docker logs -f, or
	// the attached docker run -i) from its start.
	stdout, stderr *lines.Reader
	// stdin is the attached docker run's stdin (attached containers only).
	stdin io.WriteCloser
	// exited is closed when the attached docker run returns; code is its status.
	exited chan struct{}
	code   int
}

// containers numbers the containers of this run, so that one test can
// start several.
var containers atomic.Int64

// containerName returns a new container name, unique to this run, that
// says which test made it.
func containerName(t *testing.T) string {
	t.Helper()
	n := strings.NewReplacer("/", "-", " ", "-", "#", "-").Replace(t.Name())
	return fmt.Sprintf("pidone-test-%d-%d-%s", os.Getpid(), containers.Add(1), strings.ToLower(n))
}

// removeOnCleanup removes the named container when t ends.
func removeOnCleanup(t *testing.T, name string) {
	t.Cleanup(func() {
		if r := docker(t, "rm", "-f", "-v", name); r.code != 0 && !strings.Contains(r.stderr, "No such container") {
			t.Errorf("cleanup: %s", r)
		}
	})
}

// runDetached starts a container in the background with stdin open (so
// workloads that exit on stdin EOF keep running) and follows its output.
// opts go before the image, args after it.
func runDetached(t *testing.T, image string, opts []string, args ...string) *container {
	t.Helper()
	c := &container{name: containerName(t)}
	removeOnCleanup(t, c.name)
	argv := append([]string{"run", "-d", "-i", "--name", c.name}, labels()...)
	argv = append(append(append(argv, opts...), image), args...)
	mustDocker(t, argv...)
	c.stdout, c.stderr = follow(t, "logs", "-f", c.name)
	return c
}

// runAttached starts `docker run -i` in the foreground with a stdin pipe:
// closing stdin gives the container's main process EOF (docker run -i sets
// StdinOnce), and exited is closed when it ends.
func runAttached(t *testing.T, image string, opts []string, args ...string) *container {
	t.Helper()
	c := &container{name: containerName(t), exited: make(chan struct{})}
	removeOnCleanup(t, c.name)
	argv := append([]string{"run", "-i", "--name", c.name}, labels()...)
	argv = append(append(append(argv, opts...), image), args...)
	cmd := exec.Command("docker", argv...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	c.stdout, c.stderr = startFollowing(t, cmd)
	go func() {
		err := cmd.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exit):
			c.code = exit.ExitCode()
		default:
			c.code = -1
		}
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-c.exited:
		case <-time.After(cliTimeout):
			_ = cmd.Process.Kill()
		}
	})
	return c
}

// follow starts a long-running docker command (docker logs -f) and returns
// its output streams; the command is killed when t ends.
func follow(t *testing.T, args ...string) (stdout, stderr *lines.Reader) {
	t.Helper()
	cmd := exec.Command("docker", args...)
	stdout, stderr = startFollowing(t, cmd)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return stdout, stderr
}

// startFollowing starts cmd with its stdout and stderr read line by line.
// The pipes are our own rather than cmd.StdoutPipe, which Wait closes
// before every line may have been read.
func startFollowing(t *testing.T, cmd *exec.Cmd) (stdout, stderr *lines.Reader) {
	t.Helper()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	// Only the child keeps the write ends, so EOF means it has exited.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		t.Fatalf("docker %s: %v", strings.Join(cmd.Args[1:], " "), err)
	}
	return lines.New("stdout", outR), lines.New("stderr", errR)
}

// exitCode waits for the container to stop and returns the exit code
// docker inspect reports: what `docker ps -a` and orchestrators see.
func exitCode(t *testing.T, name string) int {
	t.Helper()
	mustDocker(t, "wait", name)
	out := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.ExitCode}}", name))
	code, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("docker inspect %s: exit code %q", name, out)
	}
	return code
}

// closeStdin closes an attached container's stdin and waits for the
// docker CLI to return.
func (c *container) closeStdin(t *testing.T) {
	t.Helper()
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(lineTimeout):
		t.Fatalf("%s: docker run still running %v after its stdin was closed", c.name, lineTimeout)
	}
	c.stdout.WaitEOF(t, lineTimeout)
	c.stderr.WaitEOF(t, lineTimeout)
}

// proc is one line of `workload ps`, run inside a container.
type proc struct {
	pid   int
	state string
	comm  string
}

// psReport is what `docker exec NAME /workload ps` sees in the container's
// PID namespace. It includes the ps process itself.
type psReport struct {
	procs   []proc
	zombies int
}

func (r psReport) String() string {
	var b strings.Builder
	for _, p := range r.procs {
		fmt.Fprintf(&b, "\t%d %s %s\n", p.pid, p.state, p.comm)
	}
	fmt.Fprintf(&b, "\tzombies=%d", r.zombies)
	return b.String()
}

// ps runs the workload's ps inside the container's PID namespace.
func ps(t *testing.T, name string) psReport {
	t.Helper()
	out := mustDocker(t, "exec", name, "/workload", "ps")
	var r psReport
	sawTotal := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if n, ok := strings.CutPrefix(line, "zombies="); ok {
			z, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("workload ps: bad line %q", line)
			}
			r.zombies, sawTotal = z, true
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("workload ps: bad line %q", line)
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("workload ps: bad line %q", line)
		}
		r.procs = append(r.procs, proc{pid: pid, state: f[1], comm: strings.Join(f[2:], " ")})
	}
	if !sawTotal {
		t.Fatalf("workload ps printed no zombies= line:\n%s", out)
	}
	return r
}

// eventually polls cond until it holds, failing the test with cond's last
// description after timeout. For state docker only shows on request (ps,
// inspect): each cond runs the docker CLI, so it polls at a gentle pace.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	poll.Until(t, timeout, 250*time.Millisecond, cond)
}
