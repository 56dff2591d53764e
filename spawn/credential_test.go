package spawn

import (
	"testing"
)

// credentialSteps: a step is made only when it changes something, so that
// a pidone that is not root can run a child as itself (issue 18).
func TestCredentialSteps(t *testing.T) {
	root := identity{uids: [3]uint32{0, 0, 0}, gids: [3]uint32{0, 0, 0}, groups: []uint32{0, 1, 2}}
	nobody := identity{uids: [3]uint32{65534, 65534, 65534}, gids: [3]uint32{65534, 65534, 65534}}
	for _, tc := range []struct {
		doc              string
		c                Credential
		now              identity
		groups, gid, uid bool
	}{
		{"root to a user: every step", Credential{UID: 1000, GID: 1000, Groups: []uint32{}}, root, true, true, true},
		{"a user as itself: none", Credential{UID: 65534, GID: 65534, Groups: []uint32{}}, nobody, false, false, false},
		{"a user as itself, groups nil: none", Credential{UID: 65534, GID: 65534}, nobody, false, false, false},
		{"a user with groups it may not drop: setgroups, which fails", Credential{UID: 65534, GID: 65534, Groups: []uint32{}},
			identity{uids: nobody.uids, gids: nobody.gids, groups: []uint32{65533}}, true, false, false},
		{"the same groups in another order: no setgroups", Credential{UID: 0, GID: 0, Groups: []uint32{2, 0, 1, 1}}, root, false, false, false},
		{"root keeping root's ids but clearing its groups", Credential{UID: 0, GID: 0, Groups: []uint32{}}, root, true, false, false},
		{"a user to its own uid, another gid", Credential{UID: 65534, GID: 100, Groups: []uint32{}}, nobody, false, true, false},
		{"a saved uid that differs: setuid", Credential{UID: 65534, GID: 65534},
			identity{uids: [3]uint32{65534, 65534, 0}, gids: nobody.gids}, false, false, true},
	} {
		groups, gid, uid := credentialSteps(tc.c, tc.now)
		if groups != tc.groups || gid != tc.gid || uid != tc.uid {
			t.Errorf("%s: setgroups %v setgid %v setuid %v; want %v %v %v", tc.doc, groups, gid, uid, tc.groups, tc.gid, tc.uid)
		}
	}
}
