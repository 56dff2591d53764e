// Package binary checks a pidone binary the way a release promises it, for
// the test tiers under test/ (the release files, the images): an ELF
// executable for the architecture it is named for, statically linked,
// built from pidone's module without cgo, with the asyncpreemptoff=1
// default linked in.
package binary

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
)

// Module is pidone's module path, which is also its main package's, as
// the build information records it.
const Module = "github.com/pidone/pidone"

// Machines maps the GOARCH values pidone is released for to their ELF
// machine.
var Machines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64,
	"arm64": elf.EM_AARCH64,
}

// Check returns everything that is wrong with b as pidone for
// linux/goarch, or nil.
func Check(b []byte, goarch string) error {
	want, ok := Machines[goarch]
	if !ok {
		return fmt.Errorf("no ELF machine known for GOARCH %q", goarch)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not an ELF file: %w", err)
	}
	var errs []error
	if f.Machine != want {
		errs = append(errs, fmt.Errorf("ELF machine %v, want %v for %s", f.Machine, want, goarch))
	}
	if f.Class != elf.ELFCLASS64 || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		errs = append(errs, fmt.Errorf("ELF class %v, OS ABI %v: not a 64-bit Linux executable", f.Class, f.OSABI))
	}
	if f.Type != elf.ET_EXEC {
		errs = append(errs, fmt.Errorf("ELF type %v, want %v (a static, non-PIE executable)", f.Type, elf.ET_EXEC))
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			errs = append(errs, fmt.Errorf("has a %v program header: not statically linked", p.Type))
		}
	}
	info, err := buildinfo.Read(bytes.NewReader(b))
	if err != nil {
		errs = append(errs, fmt.Errorf("no Go build information: %w", err))
	} else {
		if info.Path != Module {
			errs = append(errs, fmt.Errorf("main package %q, want pidone's, %s", info.Path, Module))
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		for key, want := range map[string]string{"GOOS": "linux", "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true"} {
			if settings[key] != want {
				errs = append(errs, fmt.Errorf("build setting %s=%q, want %q", key, settings[key], want))
			}
		}
	}
	// The Makefile links the default in (-X runtime.godebugDefault); a
	// binary without it forwards the runtime's own SIGURGs (main.go).
	if !bytes.Contains(b, []byte("asyncpreemptoff=1")) {
		errs = append(errs, errors.New("lacks the asyncpreemptoff=1 default (built without the Makefile's LDFLAGS)"))
	}
	return errors.Join(errs...)
}
