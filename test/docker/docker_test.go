// Package docker is pidone's Docker tier: the real image, FROM scratch, in
// real containers under the host's Docker engine. It checks what users of
// containers see: zombies left in the container's PID namespace, how long
// `docker stop` takes, which signals `docker kill` delivers, the exit code
// `docker inspect` reports, and pidone as a subreaper in a sidecar.
//
// Nothing is pulled: the test image is built FROM scratch, with pidone
// copied out of the product image (as docs/containers.md tells users to)
// and our own static workload and helper beside it.
//
// Environment (set by `make docker-test`):
//
//	PIDONE_IMAGE  the product image, built by `make image`; under make
//	              docker-test the checkout's own tag (pidone:test-<hash of
//	              the tree's path>), never the shared pidone:dev
//	PIDONE_VERSION, PIDONE_COMMIT  the version and commit the Makefile
//	              stamped, which the images' labels must carry
//	RELEASE_IMAGE, RELEASE_ARCHS   the images of `make image-release`
//	              (release_image_test.go)
//	PIDONE_BIN    absolute path of bin/pidone, the binary in PIDONE_IMAGE
//	              (mounted over the engine's init for `docker run --init`)
//	WORKLOAD_BIN  absolute path of the static workload (make workload)
//	HELPER_BIN    absolute path of this tier's static helper (./helper)
//	CI            "true" turns a missing Docker engine into a failure;
//	              anywhere else the tier is skipped, saying so loudly
//
// Every container and image is labelled pidone-test=1 and removed when its
// test ends; what a killed run left behind is removed at the next start.
package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// suite is what every case shares.
type suite struct {
	product string // the image users get: /pidone and nothing else
	// pidoneBin is the host's copy of the image's /pidone, for `docker run
	// --init` to mount over the engine's init.
	pidoneBin string
	image     string // the test image: /pidone from product, plus our programs
	help      string // `/pidone --help` of the binary in the image
}

// has reports whether pidone's --help lists option, the way the gated
// cases detect features other work in progress adds.
func (s *suite) has(option string) bool {
	for _, line := range strings.Split(s.help, "\n") {
		for _, f := range strings.Fields(strings.ReplaceAll(line, ",", " ")) {
			if f == option {
				return true
			}
		}
	}
	return false
}

func TestDocker(t *testing.T) {
	requireEngine(t)
	s := setup(t)
	cases := []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"ProductImage", testProductImage},
		{"ExitCodes", testExitCodes},
		{"OrphanStormLeavesNoZombie", testOrphanStorm},
		{"DaemonsLeaveNoZombie", testDaemons},
		{"StopWithPidone", testStopWithPidone},
		{"StopWithoutInit", testStopWithoutInit},
		{"StopServiceExitCode", testStopServiceExitCode},
		{"StopAfterGrace", testStopAfterGrace},
		{"KillSignalsReachChild", testKillSignals},
		{"SidecarSubreaper", testSidecar},
		{"Workers", testWorkers},
		{"DockerInitPersonality", testDockerInit},
		{"DockerInitEnvironment", testDockerInitEnvironment},
		{"ExitReport", testExitReport},
		{"CtlStatus", testCtlStatus},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, s)
		})
	}
}

// requireEngine skips the whole tier when no Docker engine answers, unless
// CI=true, where that is a failure: a CI run must not pass without it.
func requireEngine(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		t.Logf("Docker engine %s", strings.TrimSpace(string(out)))
		return
	}
	why := fmt.Sprintf("no Docker engine answers (`docker info`: %v: %s)", err, strings.TrimSpace(string(out)))
	if os.Getenv("CI") == "true" {
		t.Fatalf("DOCKER TIER FAILED: %s, and CI=true requires one", why)
	}
	t.Skipf("DOCKER TIER NOT RUN: %s; outside CI this is a skip, with CI=true a failure", why)
}

// setup removes what dead runs left, builds the test image and reads
// pidone's --help from it.
func setup(t *testing.T) *suite {
	t.Helper()
	s := &suite{product: os.Getenv("PIDONE_IMAGE"), pidoneBin: os.Getenv("PIDONE_BIN")}
	workload, helper := os.Getenv("WORKLOAD_BIN"), os.Getenv("HELPER_BIN")
	if s.product == "" || s.pidoneBin == "" || workload == "" || helper == "" {
		t.Fatal("PIDONE_IMAGE, PIDONE_BIN, WORKLOAD_BIN and HELPER_BIN are not set: run through `make docker-test`")
	}
	removeStale(t)
	if r := docker(t, "image", "inspect", s.product); r.code != 0 {
		t.Fatalf("product image %s is missing (make image builds it):\n%s", s.product, r)
	}

	// The build context: the programs and two directories, in rootfs/.
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"tmp", "run"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o1777); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, workload, filepath.Join(rootfs, "workload"))
	copyFile(t, helper, filepath.Join(rootfs, "helper"))
	// docker-init the way dockerd runs its init: pidone under that name.
	if err := os.Symlink("pidone", filepath.Join(rootfs, "docker-init")); err != nil {
		t.Fatal(err)
	}
	dockerfile := fmt.Sprintf(`FROM scratch
COPY --from=%s /pidone /pidone
COPY rootfs/ /
ENTRYPOINT ["/pidone", "--"]
`, s.product)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	s.image = fmt.Sprintf("pidone-test:%d", os.Getpid())
	t.Cleanup(func() {
		if r := docker(t, "rmi", "-f", s.image); r.code != 0 {
			t.Errorf("cleanup: %s", r)
		}
	})
	build := append([]string{"build", "--force-rm", "-t", s.image}, labels()...)
	if r := docker(t, append(build, dir)...); r.code != 0 {
		t.Fatalf("building the test image: %s", r)
	}

	r := docker(t, append(append([]string{"run", "--rm"}, labels()...), "--entrypoint", "/pidone", s.image, "--help")...)
	if r.code != 0 {
		t.Fatalf("pidone --help in the test image: %s", r)
	}
	s.help = r.stdout
	return s
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// exitCodeTable is what `docker inspect` must report for a main command
// run under pidone as the image's ENTRYPOINT: the child's decoded status.
var exitCodeTable = []struct {
	doc  string
	args []string
	want int
}{
	{"exit 0", []string{"/workload", "exit", "0"}, 0},
	{"exit 3", []string{"/workload", "exit", "3"}, 3},
	{"exit 255", []string{"/workload", "exit", "255"}, 255},
	{"killed by SIGKILL", []string{"/workload", "killself", "KILL"}, 128 + 9},
	{"killed by SIGTERM", []string{"/workload", "killself", "TERM"}, 128 + 15},
	{"killed by SIGSEGV", []string{"/workload", "killself", "SEGV"}, 128 + 11},
	{"command not found", []string{"/nonexistent"}, 127},
	{"not executable", []string{"/tmp"}, 126},
}

func testExitCodes(t *testing.T, s *suite) {
	for _, tc := range exitCodeTable {
		t.Run(strings.ReplaceAll(tc.doc, " ", "_"), func(t *testing.T) {
			t.Parallel()
			name := containerName(t)
			removeOnCleanup(t, name)
			argv := append(append([]string{"run", "--name", name}, labels()...), s.image)
			r := docker(t, append(argv, tc.args...)...)
			if r.code != tc.want {
				t.Errorf("docker run exit status: got %d, want %d\n%s", r.code, tc.want, r)
			}
			if got := exitCode(t, name); got != tc.want {
				t.Errorf("docker inspect .State.ExitCode: got %d, want %d", got, tc.want)
			}
		})
	}
}

// atoi is strconv.Atoi for submatches the regexp already made digits.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
