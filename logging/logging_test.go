package logging

import (
	"os"
	"os/signal"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A log reader that goes away must neither kill pidone nor produce a SIGPIPE
// that the forwarder would pass on to the child as a signal nobody sent.
func TestWriterSurvivesClosedReaderWithoutSIGPIPE(t *testing.T) {
	sigpipes := make(chan os.Signal, 8)
	signal.Notify(sigpipes, unix.SIGPIPE)
	defer signal.Stop(sigpipes)

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	w := &pipeSafeWriter{fd: p[1]}

	if _, err := w.Write([]byte("reader present\n")); err != nil {
		t.Fatalf("write with a reader: %v", err)
	}
	unix.Close(p[0])
	for i := 0; i < 3; i++ {
		if n, err := w.Write([]byte("reader gone\n")); err != nil || n != len("reader gone\n") {
			t.Fatalf("write %d after the reader left: n=%d err=%v", i, n, err)
		}
	}
	if !w.broken {
		t.Error("writer did not notice the reader going away")
	}
	// The kernel raises SIGPIPE synchronously inside write(2); had it
	// escaped, the runtime would deliver it to the channel promptly.
	select {
	case s := <-sigpipes:
		t.Fatalf("a %v escaped the writer", s)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestNewFormats(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	w := &pipeSafeWriter{fd: p[1]}
	NewTo(w, Options{Format: "json"}).Warn("reaped orphan", "pid", 7)
	buf := make([]byte, 512)
	n, _ := unix.Read(p[0], buf)
	if got := string(buf[:n]); !strings.Contains(got, `"msg":"reaped orphan"`) || !strings.Contains(got, `"pid":7`) {
		t.Errorf("json line = %q", got)
	}
}

func TestParseLevelAndFormat(t *testing.T) {
	for _, s := range []string{"debug", "INFO", "warn", "error"} {
		if _, err := ParseLevel(s); err != nil {
			t.Errorf("ParseLevel(%q): %v", s, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud) accepted")
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) accepted")
	}
}
