package workers

import (
	"strings"
	"testing"
	"time"
)

func TestConfigListenAndReadiness(t *testing.T) {
	o := DefaultOptions()
	o.Listen = []ListenSpec{mustParseListen(t, "tcp:127.0.0.1:8080")}
	o.ReadyAfter = 2 * time.Second
	groups, err := o.parseConfig([]byte(`{"groups": {
		"web": {"listen": ["web=tcp::80", "admin=unix:/run/admin.sock,mode=0600"], "ready": "notify", "readyTimeout": "5s",
			"process": {"args": ["web"]}},
		"jobs": {"readyAfter": "250ms", "process": {"args": ["jobs"]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	web, jobs := groups[0], groups[1]
	if len(web.Listen) != 2 || web.Listen[0].Name != "web" || web.Listen[1].Address != "/run/admin.sock" || web.Listen[1].Mode != 0o600 {
		t.Errorf("web listen %+v", web.Listen)
	}
	if web.Ready != (Readiness{Notify: true, After: 2 * time.Second, Timeout: 5 * time.Second}) {
		t.Errorf("web ready %+v", web.Ready)
	}
	// The command line's --listen and readiness are the defaults.
	if len(jobs.Listen) != 1 || jobs.Listen[0].Address != "127.0.0.1:8080" {
		t.Errorf("jobs listen %+v; want --listen's", jobs.Listen)
	}
	if jobs.Ready != (Readiness{After: 250 * time.Millisecond, Timeout: defaultReadyTimeout}) {
		t.Errorf("jobs ready %+v", jobs.Ready)
	}

	single, err := o.single(Process{Args: []string{"x"}})
	if err != nil || len(single[0].Listen) != 1 || single[0].Ready.After != 2*time.Second {
		t.Errorf("command-line group: %+v, %v", single, err)
	}
}

func TestConfigListenErrorsNameTheJSONPath(t *testing.T) {
	proc := `"process": {"args": ["x"]}`
	for _, tc := range []struct{ doc, json, want string }{
		{"malformed spec", `{"groups": {"web": {"listen": ["tcp:1.2.3.4"], ` + proc + `}}}`, `groups.web.listen[0]: listen "tcp:1.2.3.4": "1.2.3.4" is not HOST:PORT`},
		{"not a string", `{"groups": {"web": {"listen": [80], ` + proc + `}}}`, "groups.web.listen[0]: want a string"},
		{"not an array", `{"groups": {"web": {"listen": "tcp::80", ` + proc + `}}}`, "groups.web.listen: want an array"},
		{"same socket twice", `{"groups": {"web": {"listen": ["a=tcp::80", "b=tcp::80"], ` + proc + `}}}`, "groups.web.listen: listen tcp::80 is given twice"},
		{"bad ready", `{"groups": {"web": {"ready": "soon", ` + proc + `}}}`, `groups.web.ready: unknown readiness "soon"`},
		{"bad ready timeout", `{"groups": {"web": {"readyTimeout": "-1s", ` + proc + `}}}`, "groups.web.readyTimeout: "},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			o := DefaultOptions()
			_, err := o.parseConfig([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

func TestValidateRefusesTheSameListenTwice(t *testing.T) {
	o := DefaultOptions()
	o.Command = []string{"x"}
	o.Listen = []ListenSpec{mustParseListen(t, "tcp::80"), mustParseListen(t, "web=tcp::80")}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("Validate: %v", err)
	}
}
