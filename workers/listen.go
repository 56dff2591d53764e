package workers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/internal/unixsock"
	"golang.org/x/sys/unix"
)

// Listening sockets held by the master (--listen, "listen" in a group).
//
// The master binds every socket before any worker starts and keeps it open
// until it exits; it never accepts on it. Every worker of a group gets the
// group's sockets as descriptors 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES
// and LISTEN_PID (its own pid), the socket-activation protocol of
// sd_listen_fds(3) that servers already speak. Because the socket outlives
// every worker, a worker can die, be respawned or be replaced by a new
// generation while the port stays open: connections wait in the one accept
// queue that all workers share, and none is refused.

// The listen(2) backlog when a SPEC has no backlog= option. The kernel
// silently caps it at net.core.somaxconn (4096 by default since Linux 5.4).
const defaultBacklog = 4096

// ListenSpec is one socket to listen on: [NAME=]NETWORK:ADDRESS[,OPTION...].
type ListenSpec struct {
	// Name is the socket's entry in LISTEN_FDNAMES; empty means the name
	// of the group it belongs to.
	Name string
	// Network is tcp, tcp4, tcp6, udp, udp4, udp6 or unix.
	Network string
	// Address is HOST:PORT for tcp and udp (HOST an IP address, or empty
	// for every address), the absolute path for unix.
	Address string
	// Backlog is listen(2)'s backlog for stream sockets; 0 means
	// defaultBacklog.
	Backlog int
	// Mode is the permission bits of a unix socket's file; -1 leaves what
	// the umask gives.
	Mode int
	// UID and GID own a unix socket's file; -1 leaves pidone's.
	UID, GID int
}

const listenSyntax = "want [NAME=]tcp:HOST:PORT, tcp4:..., tcp6:[HOST]:PORT, udp:HOST:PORT, udp4:..., udp6:..." +
	" or unix:/PATH, then options (,backlog=N for tcp and unix; ,mode=0660 and ,owner=UID[:GID] for unix)"

// ParseListen reads one --listen SPEC, or one entry of a group's "listen".
func ParseListen(s string) (ListenSpec, error) {
	l := ListenSpec{Mode: -1, UID: -1, GID: -1}
	bad := func(format string, a ...any) (ListenSpec, error) {
		return ListenSpec{}, fmt.Errorf("listen %s: %s", clip.Quote(s), fmt.Sprintf(format, a...))
	}
	network, rest, ok := strings.Cut(s, ":")
	if !ok {
		return bad("%s", listenSyntax)
	}
	if name, n, named := strings.Cut(network, "="); named {
		if !groupName(name) {
			return bad("the name %s must be letters, digits, '_', '.' and '-', starting with a letter or digit", clip.Quote(name))
		}
		l.Name, network = name, n
	}
	l.Network = network
	address, options, hasOptions := strings.Cut(rest, ",")
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		a, err := parseHostPort(network, address)
		if err != nil {
			return bad("%v", err)
		}
		l.Address = a
	case "unix":
		switch {
		case address == "":
			return bad("unix: needs the socket's path (unix:/run/app.sock)")
		case !filepath.IsAbs(address):
			return bad("the path %s must be absolute", clip.Quote(address))
		case strings.IndexByte(address, 0) >= 0:
			// The kernel would cut the path at the NUL and bind another.
			return bad("the path contains a NUL byte")
		case len(address) >= len(unix.RawSockaddrUnix{}.Path):
			return bad("the path is %d bytes long; a unix socket's path has at most %d", len(address), len(unix.RawSockaddrUnix{}.Path)-1)
		case filepath.Clean(address) == "/":
			return bad("the path / names no file in a directory")
		}
		l.Address = filepath.Clean(address)
	default:
		return bad("unknown network %s: %s", clip.Quote(network), listenSyntax)
	}
	if !hasOptions {
		return l, nil
	}
	stream := !strings.HasPrefix(network, "udp")
	for _, opt := range strings.Split(options, ",") {
		key, value, _ := strings.Cut(opt, "=")
		switch {
		case opt == "":
			return bad("an empty option: a comma too many")
		case key == "backlog" && stream:
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > 65535 {
				return bad("backlog %s is not a number from 1 to 65535", clip.Quote(value))
			}
			l.Backlog = n
		case key == "mode" && network == "unix":
			m, err := strconv.ParseUint(value, 8, 32)
			if err != nil || m > 0o777 {
				return bad("mode %s is not an octal permission like 0660", clip.Quote(value))
			}
			l.Mode = int(m)
		case key == "owner" && network == "unix":
			us, gs, hasGroup := strings.Cut(value, ":")
			uid, err := strconv.ParseUint(us, 10, 31)
			if err != nil {
				return bad("owner %s is not UID or UID:GID (numbers: a container may have no user database)", clip.Quote(value))
			}
			l.UID = int(uid)
			if hasGroup {
				gid, err := strconv.ParseUint(gs, 10, 31)
				if err != nil {
					return bad("owner %s is not UID or UID:GID (numbers: a container may have no user database)", clip.Quote(value))
				}
				l.GID = int(gid)
			}
		case key == "backlog" || key == "mode" || key == "owner":
			return bad("option %s does not apply to %s sockets", key, network)
		default:
			return bad("unknown option %s (backlog=N for tcp and unix; mode=0660 and owner=UID[:GID] for unix)", clip.Quote(opt))
		}
	}
	return l, nil
}

// parseHostPort checks a tcp or udp address: an IP literal of the network's
// family (IPv6 in brackets), or nothing for every address, and a numeric
// port. Host names are refused: what they resolve to can change, and a
// container may have no resolver at all when pidone starts.
func parseHostPort(network, address string) (string, error) {
	host, port, ok := splitHostPort(address)
	if !ok {
		return "", fmt.Errorf("%s is not HOST:PORT (IPv6 in brackets: [::1]:8080; every address: :8080)", clip.Quote(address))
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("port %s is not a number from 0 to 65535", clip.Quote(port))
	}
	port = strconv.FormatUint(p, 10)
	if host == "" {
		return joinHostPort("", port), nil
	}
	ip, ok := parseIP(host)
	switch {
	case !ok:
		return "", fmt.Errorf("host %s is not an IP address (127.0.0.1, [::1], or empty for every address)", clip.Quote(host))
	case strings.HasSuffix(network, "4") && !ip.Is4():
		return "", fmt.Errorf("%s is not an IPv4 address", ip)
	case strings.HasSuffix(network, "6") && ip.Is4():
		return "", fmt.Errorf("%s is not an IPv6 address", ip)
	}
	return joinHostPort(ip.String(), port), nil
}

// splitHostPort splits HOST:PORT, or [HOST]:PORT for a host with colons
// (an IPv6 address); a host with colons but no brackets is refused, as
// net.SplitHostPort refuses it. pidone does not link package net for this
// alone: with its resolver it is a tenth of the binary.
func splitHostPort(address string) (host, port string, ok bool) {
	i := strings.LastIndexByte(address, ':')
	if i < 0 {
		return "", "", false
	}
	host, port = address[:i], address[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", "", false
		}
		host = host[1 : len(host)-1]
	} else if strings.ContainsAny(host, "[]:") {
		return "", "", false
	}
	if strings.ContainsAny(port, "[]") {
		return "", "", false
	}
	return host, port, true
}

// joinHostPort is splitHostPort's inverse: brackets around a host with
// colons.
func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// parseIP reads an IP literal as net.ParseIP does: IPv4, or IPv6 without
// a zone, an IPv4-mapped IPv6 address counting as the IPv4 address.
func parseIP(host string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// key names the socket a spec binds: two specs with the same key are one
// socket, whatever their names and options.
func (l ListenSpec) key() string { return l.Network + ":" + l.Address }

// String is the spec as it would be written on the command line.
func (l ListenSpec) String() string {
	s := l.key()
	if l.Name != "" {
		s = l.Name + "=" + s
	}
	if l.Backlog != 0 {
		s += ",backlog=" + strconv.Itoa(l.Backlog)
	}
	if l.Mode >= 0 {
		s += fmt.Sprintf(",mode=%04o", l.Mode)
	}
	if l.UID >= 0 {
		s += ",owner=" + strconv.Itoa(l.UID)
		if l.GID >= 0 {
			s += ":" + strconv.Itoa(l.GID)
		}
	}
	return s
}

func (l *ListenSpec) decodeJSON(node any) error {
	s, err := stringNode(node)
	if err == nil {
		*l, err = ParseListen(s)
	}
	return err
}

// checkListen refuses the same socket twice in one group: the worker would
// get two descriptors for one socket.
func checkListen(list []ListenSpec) error {
	seen := map[string]bool{}
	for _, l := range list {
		if seen[l.key()] {
			return fmt.Errorf("listen %s is given twice", l.key())
		}
		seen[l.key()] = true
	}
	return nil
}

// socket is one bound socket the master holds until it exits.
type socket struct {
	spec ListenSpec
	fd   int
	// bound is the address as the kernel bound it (tcp:127.0.0.1:41234
	// for port 0), for logs and pidone ctl status.
	bound string
	// dev and ino are the unix socket's file as created (0 for other
	// sockets), removed at exit if it is still the one at the path.
	dev, ino uint64
}

// ListenError is a socket that cannot be bound; it is a usage error (2).
type ListenError struct {
	Spec ListenSpec
	Err  error
}

func (e *ListenError) Error() string { return fmt.Sprintf("listen %s: %v", e.Spec, e.Err) }
func (e *ListenError) Unwrap() error { return e.Err }

// bindSocket creates, binds and (for stream sockets) listens on l's socket.
// The descriptor is close-on-exec: only the workers it is handed to get it.
// It is left in blocking mode, as socket activation passes it; O_NONBLOCK
// belongs to the open file that every worker shares, so a worker that
// wants it sets it for all of them, as with any inherited listener.
func bindSocket(l ListenSpec) (*socket, error) {
	var s *socket
	var err error
	if l.Network == "unix" {
		s, err = bindUnix(l)
	} else {
		s, err = bindInet(l)
	}
	if err != nil {
		return nil, &ListenError{Spec: l, Err: err}
	}
	return s, nil
}

func (l ListenSpec) backlog() int {
	if l.Backlog > 0 {
		return l.Backlog
	}
	return defaultBacklog
}

func bindInet(l ListenSpec) (*socket, error) {
	typ := unix.SOCK_STREAM
	if strings.HasPrefix(l.Network, "udp") {
		typ = unix.SOCK_DGRAM
	}
	host, portText, _ := splitHostPort(l.Address)
	port, _ := strconv.Atoi(portText)
	ip, hasIP := parseIP(host)
	family := l.Network[len(l.Network)-1]
	var fd int
	var err error
	switch {
	case family == '4' || ip.Is4():
		var a [4]byte // 0.0.0.0 when there is no host
		if hasIP {
			a = ip.As4()
		}
		fd, err = inetSocket(typ, &unix.SockaddrInet4{Port: port, Addr: a}, false)
	case family == '6' || hasIP:
		var a [16]byte // :: when there is no host
		if hasIP {
			a = ip.As16()
		}
		fd, err = inetSocket(typ, &unix.SockaddrInet6{Port: port, Addr: a}, true)
	default:
		// tcp or udp on every address: both families on one socket, as
		// Go's net.Listen does, unless the kernel has no IPv6.
		fd, err = inetSocket(typ, &unix.SockaddrInet6{Port: port}, false)
		if errors.Is(err, unix.EAFNOSUPPORT) {
			fd, err = inetSocket(typ, &unix.SockaddrInet4{Port: port}, false)
		}
	}
	if err != nil {
		return nil, err
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, l.backlog()); err != nil {
			unix.Close(fd)
			return nil, os.NewSyscallError("listen", err)
		}
	}
	s := &socket{spec: l, fd: fd, bound: l.key()}
	if sa, err := unix.Getsockname(fd); err == nil {
		s.bound = l.Network + ":" + sockaddrText(sa)
	}
	return s, nil
}

// inetSocket is a socket of sa's family with SO_REUSEADDR (a restarted
// pidone can bind at once, while connections of its previous life are in
// TIME_WAIT), bound to sa. v6only makes an IPv6 socket IPv6 only; without
// it, the wildcard address takes IPv4 as well.
func inetSocket(typ int, sa unix.Sockaddr, v6only bool) (int, error) {
	domain := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err == nil && domain == unix.AF_INET6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolInt(v6only))
	}
	if err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, bindError(err)
	}
	return fd, nil
}

// bindError says what a failed bind(2) of an IP socket means for the user.
func bindError(err error) error {
	var hint string
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		hint = "another socket is bound to this address"
	case errors.Is(err, unix.EACCES):
		hint = "ports below 1024 need root or CAP_NET_BIND_SERVICE"
	case errors.Is(err, unix.EADDRNOTAVAIL):
		hint = "no interface of this network namespace has this address"
	default:
		return os.NewSyscallError("bind", err)
	}
	return fmt.Errorf("%w: bind: %s", err, hint)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sockaddrText writes a bound address as a SPEC writes it.
func sockaddrText(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return joinHostPort(netip.AddrFrom4(a.Addr).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return joinHostPort(netip.AddrFrom16(a.Addr).Unmap().String(), strconv.Itoa(a.Port))
	case *unix.SockaddrUnix:
		return a.Name
	}
	return "?"
}

// bindUnix binds a unix stream socket at l.Address, with l's mode and
// owner (internal/unixsock says how it is kept safe from whoever else
// can write the directory). What the workers' getsockname(2) shows is
// the private name the socket was bound at, not PATH: LISTEN_FDNAMES
// tells sockets apart.
func bindUnix(l ListenSpec) (*socket, error) {
	fd, dev, ino, err := unixsock.Listen(l.Address, l.Mode, l.UID, l.GID, l.backlog())
	if err != nil {
		return nil, err
	}
	return &socket{spec: l, fd: fd, bound: l.key(), dev: dev, ino: ino}, nil
}

// close closes the socket and removes its unix socket file if it is still
// the one bind created.
func (s *socket) close() {
	unix.Close(s.fd)
	unixsock.Remove(s.spec.Address, s.dev, s.ino)
}

// socketSet is every socket the master holds, by key.
type socketSet struct {
	byKey map[string]*socket
	order []*socket
}

// attach binds every socket of specs that is not bound yet and gives each
// group its sockets. It is all or nothing: when one bind fails, the sockets
// this call bound are closed again, so a reload with a bad SPEC changes
// nothing. A socket stays bound until the master exits, even when a reload
// no longer lists it: a later reload may list it again, and a worker of the
// old generation may still serve on it.
func (ss *socketSet) attach(specs []*GroupSpec, log *slog.Logger) error {
	if ss.byKey == nil {
		ss.byKey = map[string]*socket{}
	}
	var fresh []*socket
	for _, spec := range specs {
		spec.sockets = nil
		for _, l := range spec.Listen {
			s := ss.byKey[l.key()]
			if s == nil {
				var err error
				if s, err = bindSocket(l); err != nil {
					for _, f := range fresh {
						f.close()
						delete(ss.byKey, f.spec.key())
					}
					return err
				}
				fresh = append(fresh, s)
				ss.byKey[l.key()] = s
			} else if s.spec.Backlog != l.Backlog || s.spec.Mode != l.Mode || s.spec.UID != l.UID || s.spec.GID != l.GID {
				log.Warn("socket already bound: its options stay as they were bound until pidone exits",
					"listen", l.String(), "bound", s.spec.String())
			}
			spec.sockets = append(spec.sockets, s)
		}
	}
	for _, s := range fresh {
		log.Info("listening", "socket", s.spec.String(), "address", s.bound)
	}
	ss.order = append(ss.order, fresh...)
	return nil
}

// closeAll closes every socket; the master is exiting.
func (ss *socketSet) closeAll() {
	for _, s := range ss.order {
		s.close()
	}
	ss.order, ss.byKey = nil, nil
}

// The variables of socket activation and readiness, which pidone sets for
// its workers and never passes on from its own environment.
const (
	envListenFDs     = "LISTEN_FDS"
	envListenFDNames = "LISTEN_FDNAMES"
	envListenPID     = "LISTEN_PID"
	envNotifySocket  = "NOTIFY_SOCKET"
)

// listenFDsStart is the first descriptor of socket activation (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// handoff returns a worker's environment env with the variables of socket
// activation and readiness replaced by the group's, and the descriptors the
// worker must get as 3, 4, ... (in LISTEN_FDNAMES order). listenPID says
// that LISTEN_PID must be set to the worker's own pid, which is known only
// in the child.
//
// Whatever pidone itself inherited (systemd's LISTEN_* for pidone, the
// NOTIFY_SOCKET of pidone's own supervisor) is removed: those name
// descriptors and a socket that are pidone's, not the worker's.
func handoff(spec *GroupSpec, env []string) (_ []string, files []int, listenPID bool) {
	out := make([]string, 0, len(env)+3)
	for _, kv := range env {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case envListenFDs, envListenFDNames, envListenPID, envNotifySocket:
		default:
			out = append(out, kv)
		}
	}
	if len(spec.sockets) > 0 {
		names := make([]string, len(spec.sockets))
		for i, s := range spec.sockets {
			files = append(files, s.fd)
			names[i] = spec.Listen[i].Name
			if names[i] == "" {
				names[i] = spec.Name
			}
		}
		out = append(out, envListenFDs+"="+strconv.Itoa(len(files)), envListenFDNames+"="+strings.Join(names, ":"))
	}
	if spec.notifySocket != "" {
		out = append(out, envNotifySocket+"="+spec.notifySocket)
	}
	return out, files, len(files) > 0
}
