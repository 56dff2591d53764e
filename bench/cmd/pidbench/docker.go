package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// dockerInit is how one init runs as a container's entry point. The image
// is FROM scratch, so only static binaries qualify: tini is tini-static
// (same source and version as /usr/bin/tini), and dumb-init, which Debian
// ships dynamic only, has no entry.
type dockerInit struct {
	Name  string // column in the table
	Entry []string
}

// dockerRows measures `docker stop -t cfg.dockerStopTimeout` on a container
// whose main program never installs a SIGTERM handler (benchkid noterm),
// the case an init exists for: as PID 1 the kernel ignores the SIGTERM, so
// without an init docker waits out the timeout and SIGKILLs; under an init
// the forwarded SIGTERM kills the program and the init exits. Rounds
// interleave the variants in rotating order.
func dockerRows(cfg *config) ([]row, error) {
	if err := exec.Command("docker", "info").Run(); err != nil {
		return []row{naRow("docker", "docker stop", "docker unavailable")}, nil
	}
	load0 := loadavg()
	dir, err := os.MkdirTemp("", "pidone-bench-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{"pidone": cfg.pidone, "benchkid": cfg.benchkid}
	variants := []dockerInit{
		{Name: "no init", Entry: []string{"/benchkid", "noterm"}},
		{Name: "pidone", Entry: []string{"/pidone", "--", "/benchkid", "noterm"}},
	}
	if isStatic("/usr/bin/tini-static") {
		files["tini"] = "/usr/bin/tini-static"
		variants = append(variants, dockerInit{Name: "tini", Entry: []string{"/tini", "-g", "--", "/benchkid", "noterm"}})
	}
	if isStatic("/usr/bin/catatonit") {
		files["catatonit"] = "/usr/bin/catatonit"
		variants = append(variants, dockerInit{Name: "catatonit", Entry: []string{"/catatonit", "-g", "--", "/benchkid", "noterm"}})
	}
	var names []string
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	dockerfile := "FROM scratch\nCOPY " + strings.Join(names, " ") + " /\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return nil, err
	}
	image := fmt.Sprintf("pidone-bench:%d", os.Getpid())
	if out, err := exec.Command("docker", "build", "-q", "-t", image, dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("docker build: %v\n%s", err, out)
	}
	defer exec.Command("docker", "rmi", "-f", image).Run()

	stops := map[string][]float64{}
	for r := range cfg.dockerRounds {
		for _, v := range rotate(variants, r) {
			d, code, err := dockerStop(image, v, r, cfg.dockerStopTimeout)
			if err != nil {
				return nil, err
			}
			cfg.logf("docker %-9s stop=%.3fs exit=%d load=%s", v.Name, d.Seconds(), code, loadavg())
			stops[v.Name] = append(stops[v.Name], d.Seconds())
		}
	}
	vals := map[string]float64{}
	for name, xs := range stops {
		vals[name] = median(xs)
	}
	noInit := vals["no init"]
	delete(vals, "no init")
	return []row{{Group: "docker", Metric: fmt.Sprintf("docker stop -t %d, child without TERM handler", cfg.dockerStopTimeout),
		Unit: "s", Digits: 3, Values: vals, Target: target{Kind: "best", Limit: 1.3},
		Load: load0 + " -> " + loadavg(),
		Note: fmt.Sprintf("no init: %.3f s; median of %d; FROM scratch, tini = tini-static, dumb-init is dynamic only", noInit, cfg.dockerRounds)}}, nil
}

// dockerStop starts one container, waits until its program is ready, and
// times docker stop. It returns the container's exit code too.
func dockerStop(image string, v dockerInit, round, timeout int) (time.Duration, int, error) {
	name := fmt.Sprintf("pidone-bench-%d-%d-%s", os.Getpid(), round, strings.ReplaceAll(v.Name, " ", "-"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeout+60)*time.Second)
	defer cancel()
	defer exec.Command("docker", "rm", "-f", name).Run()
	args := append([]string{"run", "-d", "--name", name, image}, v.Entry...)
	if out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("docker run %s: %v\n%s", v.Name, err, out)
	}
	for {
		out, _ := exec.CommandContext(ctx, "docker", "logs", name).Output()
		if bytes.HasPrefix(out, []byte("R\n")) {
			break
		}
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("%s container never became ready", v.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if out, err := exec.CommandContext(ctx, "docker", "stop", "-t", strconv.Itoa(timeout), name).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("docker stop %s: %v\n%s", v.Name, err, out)
	}
	d := time.Since(t0)
	out, err := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{.State.ExitCode}}", name).Output()
	if err != nil {
		return 0, 0, err
	}
	code, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return d, code, nil
}
