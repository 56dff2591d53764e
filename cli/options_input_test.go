package cli

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Input hardening of pidone's own options (issue 10): --user and
// --no-new-privs, empty paths, and messages that never echo a huge value.

func TestUserOptions(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("app:x:1000:\nstaff:x:50:app\n"), 0o644)
	defer func(old string) { userRoot = old }(userRoot)
	userRoot = root

	type cred struct {
		uid, gid uint32
		groups   []uint32
		set, nnp bool
	}
	for _, tc := range []struct {
		args []string
		want cred
	}{
		{[]string{"app"}, cred{}},
		{[]string{"--user", "app", "app"}, cred{1000, 1000, []uint32{50}, true, false}},
		{[]string{"--user=app:app", "--no-new-privs", "app"}, cred{1000, 1000, []uint32{}, true, true}},
		{[]string{"--user", "123:456", "app"}, cred{123, 456, []uint32{}, true, false}},
		{[]string{"--no-new-privs", "app"}, cred{nnp: true}},
	} {
		s, err := parseArgs(tc.args, pidoneOptions)
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tc.args, err)
			continue
		}
		got := cred{s.userUID, s.userGID, s.userGroups, s.userSet, s.noNewPrivs}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseArgs(%q): %+v, want %+v", tc.args, got, tc.want)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--user", "nosuch", "app"}, `--user: no user "nosuch" in ` + root + "/etc/passwd"},
		{[]string{"--user", "app:nosuch", "app"}, `--user: no group "nosuch" in ` + root + "/etc/group"},
		{[]string{"--user", "", "app"}, `--user: "": no user before the ':' (want USER[:GROUP], a name or a number)`},
		{[]string{"--user", "1:", "app"}, `--user: "1:": no group after the ':' (want USER[:GROUP])`},
		{[]string{"--user", "1", "--pause"}, "--user and --no-new-privs apply to the main command; workers take the user and noNewPrivileges of their OCI process (docs/workers.md)"},
		{[]string{"--no-new-privs", "--workers", "2", "app"}, "--user and --no-new-privs apply to the main command; workers take the user and noNewPrivileges of their OCI process (docs/workers.md)"},
		{[]string{"--no-new-privs=1", "app"}, "option --no-new-privs takes no value"},
	} {
		_, err := parseArgs(tc.args, pidoneOptions)
		var ue *usageError
		if !errors.As(err, &ue) || err.Error() != tc.want {
			t.Errorf("parseArgs(%q) error = %v, want usage error %q", tc.args, err, tc.want)
		}
	}
}

func TestEmptyPathsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--workers", "2", "--pidfile", "", "app"}, "--pidfile: the path is empty"},
		{[]string{"--workers", "2", "--pidfile=", "app"}, "--pidfile: the path is empty"},
		{[]string{"--config", ""}, "--config: the path is empty"},
		{[]string{"--spec", ""}, "--spec: the path is empty"},
		{[]string{"--termination-log", "", "app"}, "--termination-log: the path is empty"},
	} {
		_, err := parseArgs(tc.args, pidoneOptions)
		var ue *usageError
		if !errors.As(err, &ue) || err.Error() != tc.want {
			t.Errorf("parseArgs(%q) error = %v, want usage error %q", tc.args, err, tc.want)
		}
	}
}

// TestErrorsCutEchoedValues: a value of any length is echoed in at most 64
// bytes, for every option that repeats its value.
func TestErrorsCutEchoedValues(t *testing.T) {
	long := strings.Repeat("Z", 100_000)
	cut := `"` + strings.Repeat("Z", 64) + `"... (100000 bytes)`
	for _, args := range [][]string{
		{"-p", long, "app"},
		{"-r", long, "app"},
		{"-r", "TERM:" + long, "app"},
		{"--delay", long, "app"},
		{"--delay", "TERM:" + long, "app"},
		{"-e", long, "app"},
		{"--grace", long, "app"},
		{"--log-level", long, "app"},
		{"--log-format", long, "app"},
		{"--user", long, "app"},
		{"--pause", long},
		{"--workers", long, "app"},
		{"--workers", "1", "--restart", long, "app"},
		{"--workers", "1", "--throttle", long, "app"},
		{"--workers", "1", "--backoff-min", long, "app"},
		{"--workers", "1", "--give-up", long, "app"},
		{"--workers", "1", "--fatal-exit", long, "app"},
		{"--workers", "1", "--reload", long, "app"},
		{"--workers", "1", "--reload-signal", long, "app"},
		{"--workers", "1", "--stop-signal", long, "app"},
	} {
		_, err := parseArgs(args, pidoneOptions)
		if err == nil || len(err.Error()) > 300 || !strings.Contains(err.Error(), cut) {
			msg := "<nil>"
			if err != nil {
				msg = err.Error()
			}
			t.Errorf("parseArgs(%.40q): a %d-byte error %.200q; want one quoting the value as %.40q...", args, len(msg), msg, cut)
		}
	}
}
