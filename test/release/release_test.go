// Package release checks what `make release` writes and how releases are
// named: the versioned binaries in dist/, their SHA256SUMS, LICENSE and
// the man page pidone.1,
// the version mk/version.sh makes from the VERSION file and git, and that
// the README, the CHANGELOG and the Dockerfile name that version and the
// licence.
//
// Environment (set by `make release-test`, after `make release`):
//
//	DIST_DIR        absolute path of dist/
//	PIDONE_VERSION  the version the Makefile computed (mk/version.sh)
//	PIDONE_COMMIT   the commit it stamped (mk/version.sh --commit)
//	RELEASE_ARCHS   the release architectures, "amd64 arm64"
package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pidone/pidone/test/internal/binary"
)

// root is the repository, two levels above this package.
var root = filepath.Join("..", "..")

type env struct {
	dist, version, commit string
	archs                 []string
}

func getEnv(t *testing.T) env {
	t.Helper()
	e := env{os.Getenv("DIST_DIR"), os.Getenv("PIDONE_VERSION"), os.Getenv("PIDONE_COMMIT"), strings.Fields(os.Getenv("RELEASE_ARCHS"))}
	if e.dist == "" || e.version == "" || len(e.archs) == 0 {
		t.Fatal("DIST_DIR, PIDONE_VERSION and RELEASE_ARCHS are not set: run through `make release-test`")
	}
	return e
}

func binName(version, arch string) string { return "pidone-" + version + "-linux-" + arch }

func TestReleaseFiles(t *testing.T) {
	e := getEnv(t)
	entries, err := os.ReadDir(e.dist)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, d := range entries {
		got = append(got, d.Name())
	}
	for _, arch := range e.archs {
		want = append(want, binName(e.version, arch))
	}
	want = append(want, "LICENSE", "SHA256SUMS", "pidone.1")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("dist/ holds %q, want %q", got, want)
	}

	bins := map[string][]byte{}
	for _, arch := range e.archs {
		name := binName(e.version, arch)
		b, err := os.ReadFile(filepath.Join(e.dist, name))
		if err != nil {
			t.Error(err)
			continue
		}
		bins[name] = b
		if err := binary.Check(b, arch); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Contains(b, []byte(e.version)) {
			t.Errorf("%s does not hold its version %q (-X github.com/pidone/pidone/cli.version)", name, e.version)
		}
	}

	// SHA256SUMS: one line per binary, in sha256sum's own format, so
	// `sha256sum -c SHA256SUMS` checks them.
	sums, err := os.ReadFile(filepath.Join(e.dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, arch := range e.archs {
		name := binName(e.version, arch)
		sum := sha256.Sum256(bins[name])
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+name)
	}
	if want := strings.Join(lines, "\n") + "\n"; string(sums) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", sums, want)
	}
	cmd := exec.Command("sha256sum", "-c", "SHA256SUMS")
	cmd.Dir = e.dist
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}

	// The licence and the man page, as the repository has them.
	for _, f := range []struct{ shipped, source string }{{"LICENSE", "LICENSE"}, {"pidone.1", "docs/pidone.1"}} {
		source, err := os.ReadFile(filepath.Join(root, f.source))
		if err != nil {
			t.Fatal(err)
		}
		if shipped, err := os.ReadFile(filepath.Join(e.dist, f.shipped)); err != nil || !bytes.Equal(shipped, source) {
			t.Errorf("dist/%s is not the repository's %s (%v)", f.shipped, f.source, err)
		}
	}
}

// TestReleaseBinaryRuns runs the binary built for this machine: the version
// it prints is the release's, and as docker-init it names the commit the
// way dockerd parses it.
func TestReleaseBinaryRuns(t *testing.T) {
	e := getEnv(t)
	if !slices.Contains(e.archs, runtime.GOARCH) {
		t.Skipf("no release binary for this machine's %s (RELEASE_ARCHS %q)", runtime.GOARCH, e.archs)
	}
	bin := filepath.Join(e.dist, binName(e.version, runtime.GOARCH))
	out, err := exec.Command(bin, "--version").Output()
	if want := "pidone version " + e.version + "\n"; err != nil || string(out) != want {
		t.Errorf("%s --version: %q, %v; want %q", bin, out, err, want)
	}

	dir := t.TempDir()
	for _, name := range []string{"docker-init", "tini"} {
		if err := os.Symlink(bin, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The commit: in the version's build metadata, or, for a release
	// itself, the stamped one.
	commit := e.commit
	if _, meta, ok := strings.Cut(e.version, "+g"); ok {
		commit, _, _ = strings.Cut(meta, ".")
	}
	if len(commit) < 7 {
		t.Fatalf("no commit to expect: version %q, PIDONE_COMMIT %q (is this a git checkout?)", e.version, e.commit)
	}
	out, err = exec.Command(filepath.Join(dir, "docker-init"), "--version").Output()
	if want := "tini version 0.19.0 - git." + commit[:7] + "\n"; err != nil || string(out) != want {
		t.Errorf("docker-init --version: %q, %v; want %q", out, err, want)
	}
	out, err = exec.Command(filepath.Join(dir, "tini"), "-l").Output()
	if err != nil || !strings.Contains(string(out), "SPDX-License-Identifier: Apache-2.0") || !strings.Contains(string(out), "pidone "+e.version) {
		t.Errorf("tini -l: %q, %v; want pidone's Apache-2.0 statement with its version", out, err)
	}
}

// TestBinaryCheckFails makes sure binary.Check can fail: the right binary
// for the wrong architecture, and a dynamically linked program.
func TestBinaryCheckFails(t *testing.T) {
	e := getEnv(t)
	b, err := os.ReadFile(filepath.Join(e.dist, binName(e.version, "amd64")))
	if err != nil {
		t.Fatal(err)
	}
	if err := binary.Check(b, "arm64"); err == nil || !strings.Contains(err.Error(), "ELF machine EM_X86_64, want EM_AARCH64") {
		t.Errorf("the amd64 binary checked as arm64: %v, want an ELF machine error", err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	if err := binary.Check(b, runtime.GOARCH); err == nil || !strings.Contains(err.Error(), "not statically linked") {
		t.Errorf("%s checked as pidone: %v, want a linking error", sh, err)
	}
}

// TestVersionScript runs mk/version.sh in a scratch repository through a
// release's life: the release commit, changes on top, a new release.
func TestVersionScript(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed to check mk/version.sh: %v", err)
	}
	script, err := os.ReadFile(filepath.Join(root, "mk", "version.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return stderr.String(), err
		}
		return strings.TrimSuffix(string(out), "\n"), nil
	}
	git := func(args ...string) string {
		t.Helper()
		out, err := run("git", args...)
		if err != nil {
			t.Fatalf("git %q: %v: %s", args, err, out)
		}
		return out
	}
	version := func() string {
		t.Helper()
		out, err := run("sh", "mk/version.sh")
		if err != nil {
			t.Fatalf("mk/version.sh: %v: %s", err, out)
		}
		return out
	}
	check := func(doc, want string) {
		t.Helper()
		if got := version(); got != want {
			t.Errorf("%s: mk/version.sh printed %q, want %q", doc, got, want)
		}
	}

	write("mk/version.sh", string(script))
	write("VERSION", "0.1.0\n")
	write("main.go", "package main\n")
	check("a source tarball (no git)", "0.1.0")
	if c, _ := run("sh", "mk/version.sh", "--commit"); c != "" {
		t.Errorf("mk/version.sh --commit outside git printed %q, want nothing", c)
	}

	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "release 0.1.0")
	release := git("rev-parse", "HEAD")
	check("the release commit", "0.1.0")
	if c, _ := run("sh", "mk/version.sh", "--commit"); c != release {
		t.Errorf("mk/version.sh --commit printed %q, want HEAD %s", c, release)
	}

	write("main.go", "package main // changed\n")
	check("the release commit with a change", "0.1.0+g"+release[:7]+".dirty")
	git("commit", "-q", "-a", "-m", "a fix")
	next := git("rev-parse", "HEAD")
	check("a commit after the release", "0.1.0+g"+next[:7])
	write("new.go", "package main\n")
	check("an untracked file", "0.1.0+g"+next[:7]+".dirty")
	git("add", "new.go")
	git("commit", "-q", "-m", "a feature")

	write("VERSION", "0.2.0-rc.1\n")
	check("VERSION changed, not committed", "0.2.0-rc.1+g"+git("rev-parse", "--short=7", "HEAD")+".dirty")
	git("commit", "-q", "-a", "-m", "release 0.2.0-rc.1")
	check("the next release commit", "0.2.0-rc.1")

	// A tree without its own repository inside another checkout is a
	// tarball, not that checkout's commit.
	nested := filepath.Join(dir, "vendor", "pidone")
	write("vendor/pidone/mk/version.sh", string(script))
	write("vendor/pidone/VERSION", "0.1.0\n")
	out, err := run("sh", filepath.Join(nested, "mk", "version.sh"))
	if err != nil || out != "0.1.0" {
		t.Errorf("a tree inside another checkout: %q, %v; want \"0.1.0\"", out, err)
	}

	for _, bad := range []string{"1.0", "v0.1.0", "0.1.0+build", "01.2.3", ""} {
		write("VERSION", bad+"\n")
		out, err := run("sh", "mk/version.sh")
		if err == nil || !strings.Contains(out, "VERSION holds \""+bad+"\"") {
			t.Errorf("VERSION %q: mk/version.sh gave %q, %v; want a failure naming the file and its content", bad, out, err)
		}
	}
}

// TestDocsNameVersionAndLicence: the README's first screen names the
// licence and the latest version, the CHANGELOG has an entry for it, the
// image's label and the LICENSE file are Apache-2.0's.
func TestDocsNameVersionAndLicence(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	version := strings.TrimSpace(read("VERSION"))

	// A screen: the first 24 lines.
	var screen []string
	sc := bufio.NewScanner(strings.NewReader(read("README.md")))
	for len(screen) < 24 && sc.Scan() {
		screen = append(screen, sc.Text())
	}
	first := strings.Join(screen, "\n")
	for _, want := range []string{version, "Apache-2.0", "(LICENSE)", "(CHANGELOG.md)"} {
		if !strings.Contains(first, want) {
			t.Errorf("the README's first screen does not name %q:\n%s", want, first)
		}
	}

	changelog := read("CHANGELOG.md")
	if !strings.Contains(changelog, "\n## "+version+" ") && !strings.Contains(changelog, "\n## ["+version+"]") {
		t.Errorf("CHANGELOG.md has no \"## %s\" entry for the version in VERSION", version)
	}

	if df := read("Dockerfile"); !strings.Contains(df, `org.opencontainers.image.licenses="Apache-2.0"`) {
		t.Errorf("the Dockerfile does not label the image org.opencontainers.image.licenses=\"Apache-2.0\"")
	}

	licence := read("LICENSE")
	if debian, err := os.ReadFile("/usr/share/common-licenses/Apache-2.0"); err == nil {
		if licence != string(debian) {
			t.Errorf("LICENSE is not the text of /usr/share/common-licenses/Apache-2.0")
		}
	} else if !strings.Contains(licence, "Apache License\n                           Version 2.0, January 2004") {
		t.Errorf("LICENSE is not the Apache License 2.0 (and %v to compare it with Debian's copy)", err)
	}
}

// TestInstall runs make install and uninstall into a scratch DESTDIR:
// pidone and its man page alone by default, the peer-name links only with LINKS=peers
// (in front of the real ones on PATH they would replace them), a real
// file of a peer's name left alone, and nothing of pidone's left after
// uninstall.
func TestInstall(t *testing.T) {
	destdir := t.TempDir()
	bindir := filepath.Join(destdir, "usr", "local", "bin")
	manPage := filepath.Join(destdir, "usr", "local", "share", "man", "man1", "pidone.1")
	make := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", root, "DESTDIR=" + destdir, "PREFIX=/usr/local"}, args...)...)
		// Not the make that runs this test's variables (GOTESTFLAGS=-json).
		cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	list := func() []string {
		t.Helper()
		entries, err := os.ReadDir(bindir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			name := e.Name()
			if target, err := os.Readlink(filepath.Join(bindir, name)); err == nil {
				name += " -> " + target
			}
			names = append(names, name)
		}
		return names
	}

	if out, err := make("install"); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	if got := list(); !slices.Equal(got, []string{"pidone"}) {
		t.Errorf("make install put %q in %s, want pidone alone", got, bindir)
	}
	source, err := os.ReadFile(filepath.Join(root, "docs", "pidone.1"))
	if err != nil {
		t.Fatal(err)
	}
	if installed, err := os.ReadFile(manPage); err != nil || !bytes.Equal(installed, source) {
		t.Errorf("make install: %s is not docs/pidone.1 (%v)", manPage, err)
	} else if fi, err := os.Stat(manPage); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("make install: %s has mode %v, want 0644", manPage, fi.Mode().Perm())
	}

	if out, err := make("install", "LINKS=yes"); err == nil || !strings.Contains(out, "LINKS=peers") {
		t.Errorf("make install LINKS=yes: %v\n%s\nwant a failure naming LINKS=peers", err, out)
	}

	// A real program of a peer's name is never replaced.
	if err := os.WriteFile(filepath.Join(bindir, "tini"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := make("install", "LINKS=peers"); err != nil {
		t.Fatalf("make install LINKS=peers: %v\n%s", err, out)
	}
	want := []string{"catatonit -> pidone", "docker-init -> pidone", "dumb-init -> pidone", "pidone", "tini"}
	if got := list(); !slices.Equal(got, want) {
		t.Errorf("make install LINKS=peers put %q in %s, want %q", got, bindir, want)
	}

	if out, err := make("uninstall"); err != nil {
		t.Fatalf("make uninstall: %v\n%s", err, out)
	}
	if got := list(); !slices.Equal(got, []string{"tini"}) {
		t.Errorf("after make uninstall %s holds %q, want only the real tini", bindir, got)
	}
	if _, err := os.Stat(manPage); !os.IsNotExist(err) {
		t.Errorf("after make uninstall %s: %v, want it gone", manPage, err)
	}
}
