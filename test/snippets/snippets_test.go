// Package snippets tests every fenced code block of README.md and docs/*.md
// as a reader would paste it (issue 12: "every snippet in the docs is
// exercised by make test"):
//
//   - ```dockerfile: built with `docker build`, in a context that holds
//     every file the block copies (the static bin/pidone for a name with
//     "pidone" in it, the workload for anything else), after the project
//     image has been built under a tag of this run for `COPY --from`. A
//     block without FROM is a fragment and gets `FROM scratch` first. An
//     ENTRYPOINT that runs /pidone has its options run through the real
//     pidone.
//   - ```yaml: a whole Kubernetes object is decoded strictly into the
//     k8s.io/api types and checked like examples/kubernetes; an excerpt
//     must appear verbatim in one of those manifests; a GitHub Actions
//     workflow (it has jobs) must have every step's `run` verbatim as a
//     shell block of the same file, which runs; anything else must at
//     least be YAML.
//   - ```json: a workers configuration (it has "groups") is loaded by
//     pidone's own loader; anything else must be JSON.
//   - ```toml: must be TOML (one file: a containers.conf).
//   - ```sh: run with bash -e -o pipefail as PID 1 of a fresh PID
//     namespace, from the repository root, with bin/ (pidone, workload)
//     first on PATH; or, where running is impossible here, checked with
//     `bash -n` and listed in notRun with the reason. A block that uses
//     jq needs it (make docs-test installs it), one that runs docker or
//     names an image of the list below needs Docker.
//   - ```go: one file of a module of its own that requires nothing,
//     gofmt'd, vetted and built; or, byte for byte, a file under examples/
//     (which its own tier vets and runs, with the rest of its module).
//   - ```python: compiled with `python3 -m py_compile`.
//   - ```js or ```javascript: checked with `node --check`.
//   - a block without a language is output or a synopsis, and not run.
//
// So that a run leaves nothing behind and never touches what other
// checkouts use, what a block names is renamed for the run: images
// (pidone:dev included) to pidone-snippets-*:PID, the containers it names
// to NAME-snippets-PID (through a docker shell function), paths under /tmp
// to a temporary directory, and make builds images under the run's tag.
// Everything is removed at the end, and what an earlier killed run left is
// removed at the start.
//
// Docker, python3 or node absent: the blocks that need it are skipped,
// loudly; with CI=true that is a failure.
//
// Environment (set by `make docs-test`): PIDONE_BIN and WORKLOAD_BIN, the
// static binaries under test.
package snippets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	kubernetes "github.com/pidone/pidone/examples/kubernetes"
	"github.com/pidone/pidone/workers"
	"sigs.k8s.io/yaml"
)

// notRun lists the shell blocks that cannot run here, each matched by a
// string it contains, with the reason. They are still checked with bash -n.
// An entry that matches no block, or more than one, fails the test.
var notRun = []struct{ file, contains, reason string }{
	{"README.md", "make test", "it runs make test, which runs this test"},
	{"docs/performance.md", "make bench", "make bench takes minutes and is its own tier"},
	{"docs/containers.md", "/usr/local/libexec/pidone/docker-init", "installs into /usr/local and is for a dockerd restarted with --init-path"},
	{"docs/containers.md", "podman", "Podman is not installed here"},
	{"docs/personalities.md", "make install", "installs into /usr/local and starts a dockerd and Podman"},
	{"docs/workers.md", "pidone --workers auto", "a synopsis: my-server stands for the reader's program, and each line runs until stopped"},
	// The servers themselves are checked as their language blocks (go vet
	// and go build, py_compile, node --check); started, each serves until
	// stopped, on port 8080, which anything else on the machine may hold.
	{"docs/workers.md", "-- hello", "runs the Go server until stopped on port 8080; the go block above is vetted and built"},
	{"docs/workers.md", "gunicorn --workers", "runs gunicorn until stopped on port 8080; app.py is the python block above, compiled"},
	{"docs/workers.md", "node server.js", "runs Node until stopped on port 8080; server.js is the js block above, checked with node --check"},
	{"docs/faq.md", "kubectl", "needs a Kubernetes cluster"},
}

// images are the image references the blocks may build or use; each is
// renamed for the run. A block that builds an image not listed fails.
// make image-release tags RELEASE_IMAGE-ARCH: those are renamed with it
// (pidone-snippets-pidone:PID-arm64).
var images = []string{"pidone:dev", "pidone:release", "my-app:1", "plain-app:1", "faq-app:1", "e2e-app:1"}

// containers are the container names the blocks may give; each is renamed
// for the run. A block that names another fails.
var containers = []string{"app", "agent", "faq"}

// snippet is one fenced block.
type snippet struct {
	file string // relative to the repository root
	line int    // of the opening fence
	lang string
	text string
}

func (s snippet) String() string { return fmt.Sprintf("%s:%d (%s)", s.file, s.line, s.lang) }

var fence = regexp.MustCompile("^( *)(```+)\\s*([A-Za-z0-9_+-]*)\\s*$")

// extract returns the fenced blocks of a Markdown file, with the fence's
// indentation removed from their lines.
func extract(root, file string) ([]snippet, error) {
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return nil, err
	}
	var out []snippet
	var cur *snippet
	var indent, marks string
	var body []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fence.FindStringSubmatch(line)
		switch {
		case cur == nil && m != nil:
			cur = &snippet{file: file, line: n, lang: strings.ToLower(m[3])}
			indent, marks, body = m[1], m[2], nil
		case cur != nil && m != nil && m[2] == marks && m[3] == "":
			cur.text = strings.Join(body, "\n") + "\n"
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, strings.TrimPrefix(line, indent))
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: a fence that is never closed", file, cur.line)
	}
	return out, sc.Err()
}

// env is what every check needs, set up once.
type env struct {
	root, bin, pidone, workload string
	id                          string // this run's suffix
	tmp                         string // replaces /tmp/ in the blocks

	dockerOnce sync.Once
	dockerErr  error // why Docker cannot be used, or nil
	imageOnce  sync.Once
	imageErr   error
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{pidone: os.Getenv("PIDONE_BIN"), workload: os.Getenv("WORKLOAD_BIN"), id: strconv.Itoa(os.Getpid())}
	if e.pidone == "" || e.workload == "" {
		t.Fatal("PIDONE_BIN and WORKLOAD_BIN are not set: run through `make docs-test`")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	e.root, e.bin = root, filepath.Dir(e.pidone)
	if filepath.Dir(e.workload) != e.bin {
		t.Fatalf("PIDONE_BIN and WORKLOAD_BIN must be in one directory (it goes on PATH): %s, %s", e.pidone, e.workload)
	}
	e.tmp = t.TempDir()
	return e
}

// rename maps an image reference of the docs to this run's.
func (e *env) rename(image string) string {
	name, _, _ := strings.Cut(image, ":")
	if image == "pidone:dev" {
		return "pidone-snippets:" + e.id
	}
	return "pidone-snippets-" + name + ":" + e.id
}

// substitute renames what a block names (see the package comment).
func (e *env) substitute(text string) string {
	for _, img := range images {
		text = regexp.MustCompile(`(^|[^\w./-])`+regexp.QuoteMeta(img)+`\b`).ReplaceAllString(text, "${1}"+e.rename(img))
	}
	return strings.ReplaceAll(text, "/tmp/", e.tmp+"/")
}

// docker says why Docker cannot be used, or nil.
func (e *env) docker() error {
	e.dockerOnce.Do(func() {
		if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
			e.dockerErr = fmt.Errorf("'docker info' failed: %v: %s", err, firstLine(out))
			return
		}
		e.removeLeftovers()
	})
	return e.dockerErr
}

// needDocker skips a check that needs Docker when there is none, saying
// so; with CI=true that fails instead.
func (e *env) needDocker(t *testing.T) {
	t.Helper()
	if err := e.docker(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker engine (%v) and CI=true requires one", err)
		}
		t.Skipf("##### SKIPPED: no Docker engine (%v): this block was NOT checked #####", err)
	}
}

// projectImage builds the pidone image under this run's tag, once.
func (e *env) projectImage(t *testing.T) {
	t.Helper()
	e.needDocker(t)
	e.imageOnce.Do(func() {
		cmd := exec.Command("make", "--no-print-directory", "-C", e.root, "image", "IMAGE="+e.rename("pidone:dev"), "DOCKER_BUILD_FLAGS=-q")
		cmd.Env = cleanEnv(nil)
		if out, err := cmd.CombinedOutput(); err != nil {
			e.imageErr = fmt.Errorf("make image: %v\n%s", err, out)
		}
	})
	if e.imageErr != nil {
		t.Fatal(e.imageErr)
	}
}

// removeLeftovers removes the images and containers of earlier runs whose
// test process is gone (a run killed before its cleanup).
func (e *env) removeLeftovers() {
	out, _ := exec.Command("docker", "ps", "-a", "--format", "{{.Names}}").Output()
	for _, name := range strings.Fields(string(out)) {
		if _, pid, ok := strings.Cut(name, "-snippets-"); ok && slices.Contains(containers, strings.TrimSuffix(name, "-snippets-"+pid)) && gone(pid) {
			_ = exec.Command("docker", "rm", "-f", name).Run()
		}
	}
	e.removeImages(gone)
}

// removeImages removes the images of the runs for which ofRun(pid) holds:
// tagged PID, or PID-ARCH by make image-release.
func (e *env) removeImages(ofRun func(pid string) bool) {
	out, _ := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
	for _, ref := range strings.Fields(string(out)) {
		repo, tag, _ := strings.Cut(ref, ":")
		pid, _, _ := strings.Cut(tag, "-")
		if strings.HasPrefix(repo, "pidone-snippets") && ofRun(pid) {
			_ = exec.Command("docker", "rmi", "-f", ref).Run()
		}
	}
}

// gone reports whether pid names no running process.
func gone(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil {
		return false
	}
	_, err = os.Stat("/proc/" + strconv.Itoa(n))
	return err != nil
}

// cleanup removes what this run created in Docker.
func (e *env) cleanup() {
	if e.docker() != nil {
		return
	}
	for _, c := range containers {
		_ = exec.Command("docker", "rm", "-f", c+"-snippets-"+e.id).Run()
	}
	e.removeImages(func(pid string) bool { return pid == e.id })
}

// cleanEnv is our environment without the outer make's variables (a
// snippet's make must not join our make's jobserver), plus extra.
func cleanEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" && k != "MAKEOVERRIDES" {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func firstLine(b []byte) string {
	l, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return l
}

func TestSnippets(t *testing.T) {
	e := setup(t)
	t.Cleanup(e.cleanup)
	files := []string{"README.md"}
	docs, err := filepath.Glob(filepath.Join(e.root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		files = append(files, "docs/"+filepath.Base(d))
	}
	used := make([]int, len(notRun))
	counts := map[string]int{}
	for _, file := range files {
		snippets, err := extract(e.root, file)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(file, func(t *testing.T) {
			for _, s := range snippets {
				counts[s.lang]++
				t.Run(fmt.Sprintf("%d-%s", s.line, s.lang), func(t *testing.T) {
					switch s.lang {
					case "dockerfile":
						e.checkDockerfile(t, s)
					case "yaml":
						e.checkYAML(t, s, snippets)
					case "json":
						checkJSON(t, s, e.tmp)
					case "toml":
						if _, err := toml.Decode(s.text, new(map[string]any)); err != nil {
							t.Errorf("%v: not TOML: %v", s, err)
						}
					case "sh":
						e.checkShell(t, s, used)
					case "go":
						if f := e.exampleFile(s); f != "" {
							t.Logf("%v: is %s, which its own tier vets and runs", s, f)
							break
						}
						checkGo(t, s)
					case "python":
						checkWith(t, s, "snippet.py", "python3", "-m", "py_compile")
					case "js", "javascript":
						checkWith(t, s, "snippet.js", "node", "--check")
					case "":
						// Output or a synopsis.
					default:
						t.Errorf("%v: no check for the language %q: add one to this test", s, s.lang)
					}
				})
			}
		})
	}
	for i, n := range used {
		if n != 1 {
			t.Errorf("notRun entry %s %q matched %d shell blocks, want exactly 1", notRun[i].file, notRun[i].contains, n)
		}
	}
	t.Logf("blocks by language: %v", counts)
}

// checkShell runs a shell block, or checks it with bash -n when notRun
// lists it.
func (e *env) checkShell(t *testing.T, s snippet, used []int) {
	if out, err := exec.Command("bash", "-n", "-c", s.text).CombinedOutput(); err != nil {
		t.Fatalf("%v: bash -n: %v\n%s", s, err, out)
	}
	for i, nr := range notRun {
		if nr.file == s.file && strings.Contains(s.text, nr.contains) {
			used[i]++
			t.Skipf("%v: syntax checked only (bash -n): %s", s, nr.reason)
		}
	}
	usesDocker := regexp.MustCompile(`(^|\s)(docker|make image)\s`).MatchString(s.text)
	for _, img := range images {
		usesDocker = usesDocker || strings.Contains(s.text, img)
	}
	if usesDocker {
		e.needDocker(t)
	}
	if regexp.MustCompile(`(^|[\s|(])jq\s`).MatchString(s.text) {
		needTool(t, "jq")
	}
	if strings.Contains(s.text, "pidone:dev") {
		e.projectImage(t)
	}
	for _, m := range regexp.MustCompile(`docker build [^\n]*-t\s+(\S+)`).FindAllStringSubmatch(s.text, -1) {
		if !slices.Contains(images, m[1]) {
			t.Fatalf("%v: builds image %s, which the test does not rename: add it to images", s, m[1])
		}
	}
	for _, m := range regexp.MustCompile(`--name[ =](\S+)`).FindAllStringSubmatch(s.text, -1) {
		if !slices.Contains(containers, m[1]) {
			t.Fatalf("%v: names container %s, which the test does not rename: add it to containers", s, m[1])
		}
	}
	script := filepath.Join(t.TempDir(), "snippet.sh")
	if err := os.WriteFile(script, []byte(e.prelude()+e.substitute(s.text)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The slowest block (a cold make image-release) takes seconds; one
	// that runs a server until stopped must be in notRun, not hold the
	// test for minutes.
	const limit = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// As PID 1 of its own namespace's bash, whatever the block leaves
	// running ends with it.
	cmd := exec.CommandContext(ctx, "unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "bash", "-e", "-o", "pipefail", script)
	cmd.Dir = e.root
	cmd.Env = cleanEnv([]string{"PATH=" + e.bin + ":" + os.Getenv("PATH")})
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %v, killed: a block that runs until stopped goes in notRun\n--- block ---\n%s--- output ---\n%s", s, limit, s.text, out)
	}
	if err != nil {
		t.Fatalf("%v: %v after %v\n--- block ---\n%s--- output ---\n%s", s, err, time.Since(start).Round(time.Millisecond), s.text, out)
	}
	t.Logf("%v: ran in %v", s, time.Since(start).Round(time.Millisecond))
}

// prelude renames the containers a block names and builds images under
// this run's tag.
func (e *env) prelude() string {
	var cases []string
	for _, c := range containers {
		cases = append(cases, c, "container:"+c)
	}
	return fmt.Sprintf(`# snippet test prelude: rename what the block names (test/snippets)
docker() {
	local a out=()
	for a in "$@"; do
		case "$a" in
		%s) out+=("$a-snippets-%s") ;;
		*) out+=("$a") ;;
		esac
	done
	command docker "${out[@]}"
}
make() { command make --no-print-directory IMAGE=%s RELEASE_IMAGE=%s DOCKER_BUILD_FLAGS=-q "$@"; }
# the block
`, strings.Join(cases, "|"), e.id, e.rename("pidone:dev"), e.rename("pidone:release"))
}

// checkDockerfile builds a Dockerfile block.
func (e *env) checkDockerfile(t *testing.T, s snippet) {
	text := s.text
	// A Dockerfile has no trailing comments: `COPY a b  # note` copies a
	// file named "#". Say so plainly rather than through docker's error.
	for i, line := range strings.Split(text, "\n") {
		if strings.Contains(line, " #") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			t.Errorf("%s:%d: a trailing comment, which Dockerfiles do not have (it becomes arguments): %q", s.file, s.line+1+i, line)
		}
	}
	e.checkEntrypoint(t, s)
	e.projectImage(t)
	ctxDir := t.TempDir()
	if !regexp.MustCompile(`(?im)^\s*FROM\s`).MatchString(text) {
		text = "FROM scratch\n" + text
	}
	text = e.substitute(text)
	for _, src := range copySources(text) {
		bin := e.workload
		if strings.Contains(filepath.Base(src), "pidone") {
			bin = e.pidone
		}
		dst := filepath.Join(ctxDir, src)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(bin, dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	build := exec.Command("docker", "build", "-q", "--force-rm", ctxDir)
	build.Stderr = &stderr
	out, err := build.Output()
	if err != nil {
		t.Fatalf("%v: docker build: %v\n--- Dockerfile ---\n%s--- output ---\n%s%s", s, err, text, out, stderr.Bytes())
	}
	id := strings.TrimSpace(string(out)) // -q: the image id alone
	if err := exec.Command("docker", "rmi", id).Run(); err != nil {
		t.Logf("docker rmi %s: %v", id, err)
	}
}

// checkEntrypoint runs the pidone options of an ENTRYPOINT that runs
// /pidone through the real pidone.
func (e *env) checkEntrypoint(t *testing.T, s snippet) {
	m := regexp.MustCompile(`(?m)^\s*ENTRYPOINT\s+(\[.*\])\s*$`).FindStringSubmatch(s.text)
	if m == nil {
		return
	}
	var argv []string
	if err := json.Unmarshal([]byte(m[1]), &argv); err != nil {
		t.Fatalf("%v: ENTRYPOINT %s is not a JSON array: %v", s, m[1], err)
	}
	if len(argv) == 0 || filepath.Base(argv[0]) != "pidone" {
		return
	}
	p := kubernetes.Pidone{Options: argv[1:]}
	if i := slices.Index(argv, "--"); i >= 0 {
		p.Options = argv[1:i]
	}
	if err := kubernetes.RunPidone(e.pidone, t.TempDir(), p); err != nil {
		t.Errorf("%v: %v", s, err)
	}
}

// copySources returns the local sources of the COPY and ADD instructions
// (not those --from an image or stage).
func copySources(dockerfile string) []string {
	var srcs []string
	for _, line := range strings.Split(dockerfile, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || (!strings.EqualFold(f[0], "COPY") && !strings.EqualFold(f[0], "ADD")) {
			continue
		}
		args := f[1:]
		from := false
		for len(args) > 0 && strings.HasPrefix(args[0], "--") {
			from = from || strings.HasPrefix(args[0], "--from=")
			args = args[1:]
		}
		if from || len(args) < 2 {
			continue
		}
		if strings.HasPrefix(args[0], "[") {
			var a []string
			if json.Unmarshal([]byte(strings.Join(args, " ")), &a) == nil {
				args = a
			}
		}
		srcs = append(srcs, args[:len(args)-1]...)
	}
	return srcs
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// checkYAML decodes a YAML block (see the package comment); file is
// every block of its file.
func (e *env) checkYAML(t *testing.T, s snippet, file []snippet) {
	if kubernetes.IsObject([]byte(s.text)) {
		objs, err := kubernetes.Decode([]byte(s.text))
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		for _, obj := range objs {
			spec, ok := kubernetes.PodSpec(obj)
			if !ok {
				continue
			}
			found, err := kubernetes.Check(spec)
			if err != nil {
				t.Errorf("%v: %v", s, err)
			}
			for _, p := range found {
				if err := kubernetes.RunPidone(e.pidone, t.TempDir(), p); err != nil {
					t.Errorf("%v: container %s: %v", s, p.Container, err)
				}
			}
		}
		return
	}
	var v any
	if err := yaml.UnmarshalStrict([]byte(s.text), &v); err != nil {
		t.Fatalf("%v: not YAML: %v", s, err)
	}
	if m, ok := v.(map[string]any); ok && m["jobs"] != nil {
		checkWorkflow(t, s, m, file)
		return
	}
	// An excerpt of a manifest: it must be one of the checked examples',
	// verbatim (up to indentation).
	if m, ok := v.(map[string]any); ok && isPodExcerpt(m) {
		manifests, _ := filepath.Glob(filepath.Join(e.root, "examples/kubernetes/*.yaml"))
		for _, f := range manifests {
			b, _ := os.ReadFile(f)
			if containsLines(string(b), s.text) {
				return
			}
		}
		t.Errorf("%v: an excerpt of a Kubernetes object that is in none of examples/kubernetes/*.yaml (they are checked; an excerpt is not)", s)
	}
	if l, ok := v.([]any); ok && len(l) > 0 {
		if m, ok := l[0].(map[string]any); ok && isPodExcerpt(m) {
			t.Errorf("%v: an excerpt of a container list: make it one of examples/kubernetes/*.yaml, verbatim", s)
		}
	}
}

// isPodExcerpt reports whether m looks like a piece of a pod spec.
func isPodExcerpt(m map[string]any) bool {
	for _, k := range []string{"containers", "initContainers", "command", "terminationGracePeriodSeconds", "securityContext"} {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// containsLines reports whether the lines of excerpt, each with its
// indentation removed, appear in a row in text.
func containsLines(text, excerpt string) bool {
	trim := func(s string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			out = append(out, strings.TrimSpace(l))
		}
		return out
	}
	t, x := trim(text), trim(excerpt)
	for i := 0; i+len(x) <= len(t); i++ {
		if slices.Equal(t[i:i+len(x)], x) {
			return true
		}
	}
	return false
}

// checkJSON loads a workers configuration with pidone's own loader, and
// requires anything else to be JSON.
func checkJSON(t *testing.T, s snippet, tmp string) {
	var v map[string]any
	if err := json.Unmarshal([]byte(s.text), &v); err != nil {
		t.Fatalf("%v: not JSON: %v", s, err)
	}
	if _, ok := v["groups"]; !ok {
		return
	}
	path := filepath.Join(tmp, "workers.json")
	if err := os.WriteFile(path, []byte(s.text), 0o644); err != nil {
		t.Fatal(err)
	}
	o := workers.DefaultOptions()
	o.ConfigPath = path
	if _, err := o.Load(); err != nil {
		t.Errorf("%v: pidone's loader refuses it: %v", s, err)
	}
}

// checkGo vets and builds a Go block as the one file of a module of its
// own that requires nothing (GOPROXY=off): an example that imports
// anything but the standard library fails here, as it would for a reader
// who pastes it into an empty directory. It must be gofmt'd, too.
func checkGo(t *testing.T, s snippet) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(s.text), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = cleanEnv([]string{"GOPROXY=off", "GOFLAGS=-mod=readonly", "GOWORK=off"})
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s %s: %v\n--- block ---\n%s--- output ---\n%s", s, name, strings.Join(args, " "), err, s.text, out)
		}
		return string(out)
	}
	run("go", "mod", "init", "snippet")
	if out := run("gofmt", "-l", "main.go"); out != "" {
		t.Errorf("%v: not gofmt'd (gofmt -l lists it)", s)
	}
	run("go", "vet", ".")
	run("go", "build", "-o", filepath.Join(dir, "snippet"), ".")
}

// checkWith writes a block to a file called name and checks it with the
// command args: a compile or syntax check, since these blocks are servers
// a reader runs under pidone (the shell blocks that start them are in
// notRun).
func checkWith(t *testing.T, s snippet, name string, args ...string) {
	needTool(t, args[0])
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(s.text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], append(args[1:], path)...)
	cmd.Dir = filepath.Dir(path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s: %v\n--- block ---\n%s--- output ---\n%s", s, strings.Join(args, " "), err, s.text, out)
	}
}

// needTool skips a check whose program is not installed, loudly (make
// docs-test installs it when it can); with CI=true that fails instead,
// as for Docker.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (%v) and CI=true requires every block checked", name, err)
		}
		t.Skipf("##### SKIPPED: %s is not installed (%v): this block was NOT checked #####", name, err)
	}
}

// checkWorkflow checks a GitHub Actions workflow: the shell of every step
// (`run`) must be a shell block of the same file, verbatim up to the
// surrounding blank space, since those blocks run and the workflow cannot.
func checkWorkflow(t *testing.T, s snippet, wf map[string]any, file []snippet) {
	for _, p := range workflowProblems(wf, file) {
		t.Errorf("%v: %s", s, p)
	}
}

// workflowProblems is checkWorkflow's decision: what is wrong with wf.
func workflowProblems(wf map[string]any, file []snippet) []string {
	jobs, ok := wf["jobs"].(map[string]any)
	if !ok || len(jobs) == 0 {
		return []string{"a workflow whose jobs are not a map of jobs"}
	}
	var problems []string
	runs := 0
	for _, name := range slices.Sorted(maps.Keys(jobs)) {
		job, _ := jobs[name].(map[string]any)
		steps, ok := job["steps"].([]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("job %s has no steps", name))
			continue
		}
		for _, st := range steps {
			step, _ := st.(map[string]any)
			run, ok := step["run"].(string)
			if !ok {
				continue
			}
			runs++
			if !slices.ContainsFunc(file, func(b snippet) bool {
				return b.lang == "sh" && strings.TrimSpace(b.text) == strings.TrimSpace(run)
			}) {
				problems = append(problems, fmt.Sprintf("job %s, step %q: its run is no shell block of the file, so nothing runs it:\n%s", name, step["name"], run))
			}
		}
	}
	if runs == 0 {
		problems = append(problems, "a workflow with no run step")
	}
	return problems
}

func TestWorkflowProblems(t *testing.T) {
	file := []snippet{{lang: "sh", text: "make image\ndocker build .\n"}, {lang: "yaml", text: "echo hidden\n"}}
	for _, tc := range []struct {
		doc, yaml, want string // want: in one of the problems, or "" for none
	}{
		{"run is a shell block", "jobs:\n  a:\n    steps:\n      - uses: x@v1\n      - run: |\n          make image\n          docker build .\n", ""},
		{"run is no shell block", "jobs:\n  a:\n    steps:\n      - run: make image\n", "nothing runs it"},
		{"run only in a block of another language", "jobs:\n  a:\n    steps:\n      - run: echo hidden\n", "nothing runs it"},
		{"no run at all", "jobs:\n  a:\n    steps:\n      - uses: x@v1\n", "no run step"},
		{"a job without steps", "jobs:\n  a:\n    runs-on: x\n", "has no steps"},
		{"jobs not a map", "jobs: [a]\n", "not a map of jobs"},
	} {
		var wf map[string]any
		if err := yaml.Unmarshal([]byte(tc.yaml), &wf); err != nil {
			t.Fatal(err)
		}
		got := workflowProblems(wf, file)
		switch {
		case tc.want == "" && len(got) != 0:
			t.Errorf("%s: %q, want none", tc.doc, got)
		case tc.want != "" && !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }):
			t.Errorf("%s: %q, want a problem containing %q", tc.doc, got, tc.want)
		}
	}
}

// exampleFile returns the file under examples/ whose content is exactly
// the block's, or "".
func (e *env) exampleFile(s snippet) string {
	found := ""
	_ = filepath.WalkDir(filepath.Join(e.root, "examples"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && string(b) == s.text {
			found, _ = filepath.Rel(e.root, path)
		}
		return nil
	})
	return found
}
