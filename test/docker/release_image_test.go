package docker

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pidone/pidone/test/internal/binary"
)

// Environment of this test (set by `make docker-test`, after `make
// image-release RELEASE_IMAGE=...`):
//
//	RELEASE_IMAGE   the images' common name; each is RELEASE_IMAGE-ARCH
//	RELEASE_ARCHS   the release architectures, "amd64 arm64"
//	PIDONE_VERSION  the version the Makefile computed (mk/version.sh)
//	PIDONE_COMMIT   the commit it stamped (mk/version.sh --commit)

// imageConfig is what these tests read from `docker image inspect`.
type imageConfig struct {
	Architecture string
	Os           string
	Config       struct {
		Entrypoint []string
		Cmd        []string
		Labels     map[string]string
	}
	Size int64
}

func inspectImage(t *testing.T, image string) imageConfig {
	t.Helper()
	var cfg imageConfig
	out := mustDocker(t, "image", "inspect", "--format", "{{json .}}", image)
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("docker image inspect %s: %v", image, err)
	}
	return cfg
}

// checkLabels compares the image's OCI labels with what this build must
// have given it.
func checkLabels(t *testing.T, image string, labels map[string]string, version, commit string) {
	t.Helper()
	for key, want := range map[string]string{
		"title":    "pidone",
		"version":  version,
		"revision": commit,
		"licenses": "Apache-2.0",
		"source":   "https://github.com/pidone/pidone",
	} {
		if got := labels["org.opencontainers.image."+key]; got != want {
			t.Errorf("%s: label org.opencontainers.image.%s is %q, want %q", image, key, got, want)
		}
	}
	if strings.TrimSpace(labels["org.opencontainers.image.description"]) == "" {
		t.Errorf("%s: label org.opencontainers.image.description is missing", image)
	}
}

// TestReleaseImages checks each image `make image-release` builds: the
// platform docker records, the labels, the entrypoint, and the ELF machine
// of the /pidone inside, copied out of a created (never started)
// container, so no emulator is needed for a foreign architecture. The
// image for this machine's architecture is also run.
func TestReleaseImages(t *testing.T) {
	requireEngine(t)
	prefix, version, commit := os.Getenv("RELEASE_IMAGE"), os.Getenv("PIDONE_VERSION"), os.Getenv("PIDONE_COMMIT")
	archs := strings.Fields(os.Getenv("RELEASE_ARCHS"))
	if prefix == "" || version == "" || len(archs) == 0 {
		t.Fatal("RELEASE_IMAGE, RELEASE_ARCHS and PIDONE_VERSION are not set: run through `make docker-test`")
	}
	for _, arch := range archs {
		t.Run(arch, func(t *testing.T) {
			t.Parallel()
			image := prefix + "-" + arch
			cfg := inspectImage(t, image)
			if cfg.Architecture != arch || cfg.Os != "linux" {
				t.Errorf("%s: docker records platform %s/%s, want linux/%s", image, cfg.Os, cfg.Architecture, arch)
			}
			checkLabels(t, image, cfg.Config.Labels, version, commit)
			if want := []string{"/pidone", "--"}; !slices.Equal(cfg.Config.Entrypoint, want) {
				t.Errorf("%s: ENTRYPOINT %q, want %q", image, cfg.Config.Entrypoint, want)
			}

			bin := copyOut(t, image, "/pidone")
			if err := binary.Check(bin, arch); err != nil {
				t.Errorf("%s: /pidone: %v", image, err)
			}
			if !bytes.Contains(bin, []byte(version)) {
				t.Errorf("%s: /pidone does not hold the version %q", image, version)
			}
			t.Logf("%s: linux/%s, /pidone %d bytes, labels %v", image, cfg.Architecture, len(bin), cfg.Config.Labels)

			if arch != runtime.GOARCH {
				return // copied out and checked above; running it needs an emulator
			}
			r := docker(t, append(append([]string{"run", "--rm"}, labels()...), image, "/pidone", "--version")...)
			if want := "pidone version " + version + "\n"; r.code != 0 || r.stdout != want {
				t.Errorf("docker run %s /pidone --version: %s\nwant stdout %q", image, r, want)
			}
		})
	}
}

// copyOut returns the content of the regular file path in image, from a
// container that is created but never started (`docker create`, then
// `docker cp CONTAINER:PATH -`, which writes a tar archive).
func copyOut(t *testing.T, image, path string) []byte {
	t.Helper()
	name := containerName(t)
	removeOnCleanup(t, name)
	mustDocker(t, append(append([]string{"create", "--name", name}, labels()...), image)...)
	archive := mustDocker(t, "cp", name+":"+path, "-")
	tr := tar.NewReader(strings.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("docker cp %s:%s: no regular file in the archive", name, path)
		}
		if err != nil {
			t.Fatalf("docker cp %s:%s: %v", name, path, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}
