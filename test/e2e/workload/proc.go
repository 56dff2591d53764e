package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// procInfo is one process as /proc shows it.
type procInfo struct {
	pid, ppid int
	state     string // R, S, D, Z, ... (proc(5), /proc/PID/stat field 3)
	comm      string
	cmdline   string // empty for zombies: their memory is gone
}

// readProcs scans /proc. Processes that exit during the scan are skipped.
func readProcs() ([]procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := readProc(pid)
		if err != nil {
			continue
		}
		procs = append(procs, p)
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].pid < procs[j].pid })
	return procs, nil
}

func readProc(pid int) (procInfo, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, err
	}
	// "pid (comm) state ppid ...": comm may itself contain spaces and
	// parentheses, so split at the last ')'.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procInfo{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 2 {
		return procInfo{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	ppid, _ := strconv.Atoi(fields[1])
	p := procInfo{pid: pid, ppid: ppid, state: fields[0], comm: s[open+1 : end]}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		p.cmdline = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return p, nil
}
