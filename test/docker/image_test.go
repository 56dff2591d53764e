package docker

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pidone/pidone/test/internal/binary"
)

// testProductImage checks the image `make image` builds, as a user gets it:
// one layer holding one static binary for this machine's platform, the
// ENTRYPOINT, the OCI labels, and that it runs a command with no other file
// in the image.
func testProductImage(t *testing.T, s *suite) {
	cfg := inspectImage(t, s.product)
	if want := []string{"/pidone", "--"}; !slices.Equal(cfg.Config.Entrypoint, want) {
		t.Errorf("ENTRYPOINT: got %q, want %q", cfg.Config.Entrypoint, want)
	}
	if len(cfg.Config.Cmd) != 0 {
		t.Errorf("CMD: got %q, want none (the command is the user's)", cfg.Config.Cmd)
	}
	// make image builds for the binary's platform, this machine's.
	if cfg.Architecture != runtime.GOARCH || cfg.Os != "linux" {
		t.Errorf("docker records platform %s/%s, want linux/%s", cfg.Os, cfg.Architecture, runtime.GOARCH)
	}
	checkLabels(t, s.product, cfg.Config.Labels, os.Getenv("PIDONE_VERSION"), os.Getenv("PIDONE_COMMIT"))

	files := imageFiles(t, s.product)
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"pidone"}) {
		t.Errorf("files in the image: got %q, want only \"pidone\"", names)
	}
	if bin, ok := files["pidone"]; ok {
		if err := binary.Check(bin, runtime.GOARCH); err != nil {
			t.Errorf("/pidone: %v", err)
		}
		t.Logf("/pidone in %s: %d bytes (%.2f MiB); image size %d bytes", s.product, len(bin), float64(len(bin))/(1<<20), cfg.Size)
	}

	// The ENTRYPOINT alone runs a command: pidone runs itself as the child.
	r := docker(t, append(append([]string{"run", "--rm"}, labels()...), s.product, "/pidone", "--version")...)
	if r.code != 0 {
		t.Fatalf("docker run %s /pidone --version: %s", s.product, r)
	}
	m := regexp.MustCompile(`^pidone version (\S+)\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("docker run %s /pidone --version printed %q, want \"pidone version X\"", s.product, r.stdout)
	}
	if label := cfg.Config.Labels["org.opencontainers.image.version"]; label != m[1] {
		t.Errorf("label org.opencontainers.image.version is %q, but the binary says %q", label, m[1])
	}

	// A missing command: pidone's 127, and the cause on stderr.
	r = docker(t, append(append([]string{"run", "--rm"}, labels()...), s.product, "/no/such/command")...)
	if r.code != 127 || !strings.Contains(r.stderr, "/no/such/command") {
		t.Errorf("docker run %s /no/such/command: got exit %d, stderr %q; want 127 and the command named on stderr", s.product, r.code, r.stderr)
	}
}

// imageFiles returns every entry in the image's layers (path without the
// leading slash -> content, nil for all but regular files), read from
// `docker save`.
func imageFiles(t *testing.T, image string) map[string][]byte {
	t.Helper()
	cmd := exec.Command("docker", "save", image)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	archive, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker save %s: %v: %s", image, err, stderr.String())
	}
	// The saved archive holds manifest.json and one tar per layer.
	blobs := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("docker save %s: %v", image, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			blobs[h.Name] = b
		}
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(blobs["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("docker save %s: manifest.json: %v (%d entries)", image, err, len(manifest))
	}
	files := map[string][]byte{}
	for _, layer := range manifest[0].Layers {
		lr := tar.NewReader(bytes.NewReader(blobs[layer]))
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", layer, err)
			}
			name := strings.TrimPrefix(h.Name, "./")
			switch h.Typeflag {
			case tar.TypeReg:
				b, err := io.ReadAll(lr)
				if err != nil {
					t.Fatal(err)
				}
				files[name] = b
			default:
				files[name] = nil // directories and links count too
			}
		}
	}
	return files
}
