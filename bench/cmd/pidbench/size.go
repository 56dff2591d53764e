package main

import (
	"debug/elf"
	"math"
	"os"
	"strings"
)

// staticPeerBuilds are the static builds of the peers, which is what a FROM
// scratch image can hold: Debian's tini package ships both, catatonit is
// static, dumb-init is dynamic only.
var staticPeerBuilds = map[string]string{
	"tini":      "/usr/bin/tini-static",
	"catatonit": "/usr/bin/catatonit",
	"dumb-init": "",
}

// sizeRows reports the size of each init's binary as run, and whether it is
// static: a dynamic peer also needs libc in the image, which its file size
// does not show. So the ratio is taken on a second row, against the peers'
// static builds; the target itself is absolute.
func sizeRows(inits []initSpec) ([]row, error) {
	asRun, static := map[string]float64{}, map[string]float64{}
	var kinds []string
	for _, in := range inits {
		mb, err := sizeMB(in.Path)
		if err != nil {
			return nil, err
		}
		asRun[in.Name] = mb
		kind := "static"
		if !isStatic(in.Path) {
			kind = "dynamic"
		}
		kinds = append(kinds, in.Name+" "+kind)

		path, isPeer := staticPeerBuilds[in.Name]
		switch {
		case !isPeer:
			path = in.Path
		case path == "":
			static[in.Name] = math.NaN()
			continue
		}
		if mb, err := sizeMB(path); err == nil && isStatic(path) {
			static[in.Name] = mb
		} else {
			static[in.Name] = math.NaN()
		}
	}
	return []row{
		{Group: "size", Metric: "binary size as run", Unit: "MB", Digits: 3, Values: asRun, NoRatio: true,
			Target: target{Kind: "max", Limit: 3.0}, Note: strings.Join(kinds, ", ") + "; MB = 10^6 bytes"},
		{Group: "size", Metric: "binary size, static build", Unit: "MB", Digits: 3, Values: static,
			Note: "tini-static from Debian's tini package; dumb-init has no static build in Debian"},
	}, nil
}

func sizeMB(path string) (float64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return float64(st.Size()) / 1e6, nil
}

// isStatic reports whether path is an ELF file without a program
// interpreter (no dynamic loader).
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// hasWorkers reports whether this pidone has the master-worker mode: its
// --help lists --workers.
func hasWorkers(pidone string) bool {
	return hasOption(pidone, "--workers")
}
