package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Peer log styles: the line shapes of the inits pidone can stand in for, so
// that a log reader (or a person) used to one of them sees familiar lines.
// Only the shape is theirs; the words after it are pidone's.
const (
	StyleTini      = "tini"      // [WARN  tini (1)] message key=value
	StyleDumbInit  = "dumb-init" // [dumb-init] message key=value
	StyleCatatonit = "catatonit" // WARN (catatonit:1): message key=value
)

// NewPeer returns a logger writing lines in the given peer style to w. A
// failure that repeats is written at most once a second (limitFailures).
func NewPeer(w io.Writer, style string, level slog.Level) *slog.Logger {
	return slog.New(limitFailures(&peerHandler{w: w, style: style, level: level, mu: &sync.Mutex{}}))
}

type peerHandler struct {
	w     io.Writer
	style string
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (h *peerHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *peerHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

// WithGroup is not used by pidone; groups are flattened.
func (h *peerHandler) WithGroup(string) slog.Handler { return h }

func (h *peerHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(PeerPrefix(h.style, r.Level))
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		if v == "" || strings.ContainsAny(v, " \"=\n") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, v)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// PeerPrefix is the start of a log line in style at level.
func PeerPrefix(style string, l slog.Level) string {
	pid := os.Getpid()
	switch style {
	case StyleTini:
		// tini pads its level names to five characters.
		name := map[slog.Level]string{slog.LevelError: "FATAL", slog.LevelWarn: "WARN ", slog.LevelInfo: "INFO ", slog.LevelDebug: "DEBUG"}[l]
		if name == "" {
			name = "TRACE"
		}
		return fmt.Sprintf("[%s tini (%d)] ", name, pid)
	case StyleDumbInit:
		return "[dumb-init] "
	case StyleCatatonit:
		name := map[slog.Level]string{slog.LevelError: "ERROR", slog.LevelWarn: "WARN", slog.LevelInfo: "INFO", slog.LevelDebug: "DEBUG"}[l]
		if name == "" {
			name = "DEBUG"
		}
		return fmt.Sprintf("%s (catatonit:%d): ", name, pid)
	}
	return ""
}
