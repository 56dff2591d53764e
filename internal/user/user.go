// Package user resolves --user USER[:GROUP] to the ids the main child runs
// as, the way container runtimes do (docker run --user, gosu, su-exec):
//
//   - USER is a name from the container's /etc/passwd or a number. A
//     number needs no file at all, so it works in a FROM scratch image.
//   - GROUP, if given, is a name from /etc/group or a number, and is the
//     primary group; the supplementary groups are then none.
//   - Without GROUP, the primary group is the passwd entry's, or 0 for a
//     number that has no entry (as docker does); the supplementary groups
//     are the groups /etc/group lists the user's name in.
//
// Every resolved credential sets the supplementary groups explicitly (an
// empty list when there are none), so the child never keeps pidone's.
// The files are read with bounds on their size and on the length of a
// line: they belong to the image, not to pidone.
package user

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/internal/safefile"
)

// Bounds on the files read.
const (
	// MaxFileSize is the largest /etc/passwd or /etc/group read: 4 MiB,
	// far above any image's (a few KB) and a few large directories'.
	MaxFileSize = 4 << 20
	// MaxLine is the longest line: a group listing thousands of members.
	MaxLine = 64 << 10
	// maxID is the largest uid or gid: (uint32)-1 means "no change" to
	// setresuid(2) and cannot be anyone's id.
	maxID = 1<<32 - 2
)

// Credential is who the main child runs as.
type Credential struct {
	UID, GID uint32
	// Groups are the supplementary groups, set exactly: never nil.
	Groups []uint32
}

// Resolve reads spec, USER[:GROUP], against root's etc/passwd and
// etc/group (root is "/" but in tests).
func Resolve(spec, root string) (Credential, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	switch {
	case userPart == "":
		return Credential{}, fmt.Errorf("%s: no user before the ':' (want USER[:GROUP], a name or a number)", clip.Quote(spec))
	case hasGroup && groupPart == "":
		return Credential{}, fmt.Errorf("%s: no group after the ':' (want USER[:GROUP])", clip.Quote(spec))
	}
	r := resolver{root: root}
	c := Credential{Groups: []uint32{}}

	uid, numeric, err := parseID(userPart, "user")
	if err != nil {
		return Credential{}, err
	}
	var entry *passwdEntry
	if !numeric || !hasGroup {
		// A name must be found; a number is looked up for its group and
		// name, and needs no entry.
		entry, err = r.lookupUser(userPart, uid, numeric)
		if err != nil {
			return Credential{}, err
		}
	}
	switch {
	case entry != nil:
		c.UID, c.GID = entry.uid, entry.gid
	default:
		c.UID, c.GID = uid, 0
	}

	if hasGroup {
		gid, err := r.lookupGroup(groupPart)
		if err != nil {
			return Credential{}, err
		}
		c.GID = gid
		return c, nil
	}
	if entry != nil {
		if c.Groups, err = r.memberOf(entry.name); err != nil {
			return Credential{}, err
		}
	}
	return c, nil
}

// parseID reads a uid or gid written as a number; numeric is false for a
// name (anything that is not all digits), which it checks for characters no
// passwd or group name can hold.
func parseID(s, what string) (id uint32, numeric bool, err error) {
	allDigits := s != ""
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			allDigits = false
		}
	}
	if !allDigits {
		if strings.ContainsAny(s, ":\n\x00") {
			return 0, false, fmt.Errorf("%s %s: a name cannot hold ':', a newline or a NUL", what, clip.Quote(s))
		}
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, true, fmt.Errorf("%s id %s is out of range 0-%d", what, clip.String(s), uint64(maxID))
	}
	return uint32(n), true, nil
}

// resolver reads the files of one root, each at most once.
type resolver struct {
	root   string
	passwd [][]string // the lines of etc/passwd split at ':'; nil until read
	group  [][]string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
}

// lookupUser finds a passwd entry by name, or by uid when numeric. A
// numeric user without an entry (or without /etc/passwd) is no error: nil.
func (r *resolver) lookupUser(name string, uid uint32, numeric bool) (*passwdEntry, error) {
	path := filepath.Join(r.root, "etc/passwd")
	lines, err := r.read(&r.passwd, path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && numeric:
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("user %s: %s does not exist (an image without one takes numeric ids: --user 1000:1000)", clip.Quote(name), path)
	case err != nil:
		return nil, err
	}
	for _, f := range lines {
		if len(f) < 4 {
			continue
		}
		u, okU := id(f[2])
		g, okG := id(f[3])
		if okU && okG && (numeric && u == uid || !numeric && f[0] == name) {
			return &passwdEntry{name: f[0], uid: u, gid: g}, nil
		}
	}
	if numeric {
		return nil, nil
	}
	return nil, fmt.Errorf("no user %s in %s", clip.Quote(name), path)
}

// lookupGroup reads GROUP: a number, or a name from /etc/group.
func (r *resolver) lookupGroup(s string) (uint32, error) {
	gid, numeric, err := parseID(s, "group")
	if err != nil || numeric {
		return gid, err
	}
	path := filepath.Join(r.root, "etc/group")
	lines, err := r.read(&r.group, path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("group %s: %s does not exist (an image without one takes a numeric group: --user 1000:1000)", clip.Quote(s), path)
	case err != nil:
		return 0, err
	}
	for _, f := range lines {
		if len(f) >= 3 && f[0] == s {
			if gid, ok := id(f[2]); ok {
				return gid, nil
			}
		}
	}
	return 0, fmt.Errorf("no group %s in %s", clip.Quote(s), path)
}

// memberOf lists the gids of the groups /etc/group lists name in, in file
// order, each once; none without the file.
func (r *resolver) memberOf(name string) ([]uint32, error) {
	lines, err := r.read(&r.group, filepath.Join(r.root, "etc/group"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []uint32{}, nil
	case err != nil:
		return nil, err
	}
	groups := []uint32{}
	seen := map[uint32]bool{}
	for _, f := range lines {
		if len(f) < 4 {
			continue
		}
		gid, ok := id(f[2])
		if !ok || seen[gid] {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == name {
				groups = append(groups, gid)
				seen[gid] = true
				break
			}
		}
	}
	return groups, nil
}

// read returns path's lines split at ':', reading the file the first time
// it is asked for. Empty lines, comments and NIS "+"/"-" entries are
// skipped, as the C library's files backend does.
func (r *resolver) read(cache *[][]string, path string) ([][]string, error) {
	if *cache != nil {
		return *cache, nil
	}
	b, err := safefile.ReadRegular(path, MaxFileSize, 0)
	if errors.As(err, new(*safefile.TooLargeError)) {
		return nil, fmt.Errorf("%s is larger than %d bytes (4 MiB), the limit", path, MaxFileSize)
	}
	if err != nil {
		return nil, err
	}
	lines := [][]string{}
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > MaxLine {
			return nil, fmt.Errorf("%s: line %d is longer than %d bytes, the limit", path, n, MaxLine)
		}
		if len(line) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		lines = append(lines, strings.Split(string(line), ":"))
	}
	*cache = lines
	return lines, nil
}

// id reads a uid or gid field of a file.
func id(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil && n <= maxID
}
