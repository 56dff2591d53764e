package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// runPinpid keeps the last pid of its PID namespace at N, so that every
// fork takes the lowest free pid above N and a pid freed by a reap is given
// again at once: the pid-reuse recycler. It needs CAP_SYS_ADMIN over the
// namespace (ns_last_pid, pid_namespaces(7)) and runs until killed,
// printing "pinpid ready" after the first write.
func runPinpid(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: pinpid N")
	}
	if _, err := strconv.Atoi(args[0]); err != nil {
		return fmt.Errorf("pid %q is not a number", args[0])
	}
	f, err := os.OpenFile("/proc/sys/kernel/ns_last_pid", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	value := []byte(args[0])
	for i := 0; ; i++ {
		if _, err := f.WriteAt(value, 0); err != nil {
			return fmt.Errorf("write ns_last_pid: %w", err)
		}
		if i == 0 {
			fmt.Println("pinpid ready")
		}
		time.Sleep(100 * time.Microsecond)
	}
}
