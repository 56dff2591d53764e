package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The harness reads every figure about an init from outside its PID
// namespace, through the init's host pid, so that measuring never runs code
// inside the namespace or in the init itself.

// tasks lists the thread ids of pid.
func tasks(pid int) ([]string, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	tids := make([]string, 0, len(ents))
	for _, e := range ents {
		tids = append(tids, e.Name())
	}
	return tids, nil
}

// cpuNS is the CPU time pid's live threads have run, in nanoseconds: the
// first field of /proc/PID/task/TID/schedstat (sched_info.cpu_time, exact,
// not tick-sampled like utime and stime).
func cpuNS(pid int) (int64, error) {
	tids, err := tasks(pid)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, tid := range tids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, tid))
		if err != nil {
			continue // the thread exited between ReadDir and here
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("empty schedstat for task %s of %d", tid, pid)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		sum += ns
	}
	return sum, nil
}

// childCount counts pid's children, living or zombie, over all its threads
// (/proc/PID/task/TID/children; a reparented orphan may hang off any thread
// of the init). A zombie stays on this list until the init reaps it.
func childCount(pid int, buf []byte) (int, []byte) {
	tids, err := tasks(pid)
	if err != nil {
		return -1, buf
	}
	n := 0
	for _, tid := range tids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/task/%s/children", pid, tid))
		if err != nil {
			continue
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			m, err := f.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+m]
			if err != nil || m == 0 {
				break
			}
		}
		f.Close()
		n += len(bytes.Fields(buf))
	}
	return n, buf
}

// ctxSwitches sums voluntary and involuntary context switches over pid's
// threads: every time a thread went to sleep or was preempted. An init that
// never wakes up adds none.
func ctxSwitches(pid int) (int64, error) {
	tids, err := tasks(pid)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, tid := range tids {
		v, err := statusFields(filepath.Join(fmt.Sprintf("/proc/%d/task", pid), tid, "status"),
			"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
		if err != nil {
			continue
		}
		sum += v["voluntary_ctxt_switches"] + v["nonvoluntary_ctxt_switches"]
	}
	return sum, nil
}

// statusFields reads the named "Key:\tvalue [kB]" lines of a status-like
// file as integers.
func statusFields(path string, keys ...string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	got := make(map[string]int64, len(keys))
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !want[k] {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, k, err)
		}
		got[k] = n
	}
	for _, k := range keys {
		if _, ok := got[k]; !ok {
			return nil, fmt.Errorf("%s: no %s", path, k)
		}
	}
	return got, sc.Err()
}

// memory is the resident footprint of one process, in KiB.
type memory struct {
	RSS, PSS int64
	Threads  int
}

func memoryOf(pid int) (memory, error) {
	st, err := statusFields(fmt.Sprintf("/proc/%d/status", pid), "VmRSS", "Threads")
	if err != nil {
		return memory{}, err
	}
	roll, err := statusFields(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss")
	if err != nil {
		return memory{}, err
	}
	return memory{RSS: st["VmRSS"], PSS: roll["Pss"], Threads: int(st["Threads"])}, nil
}

// loadavg is the first three fields of /proc/loadavg, for the record.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// readFile returns a whole (small) file as a string.
func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
