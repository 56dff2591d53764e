package cli

import (
	"reflect"
	"strings"
	"testing"
)

// The personalities' usage errors are getopt's, word for word: each want
// below is what Debian's tini 0.19, dumb-init 1.2.5 and catatonit 0.1.7
// print for the same command line (test/e2e/personality_test.go holds
// pidone and the real programs to the same lines).

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		doc   string
		table []option
		syn   syntax
		args  []string
		want  optionError // err left out
	}{
		{"unknown short", dumbInitOptions, getoptLongSyntax, []string{"-cz", "app"}, optionError{mistake: unknownShort, option: "-z"}},
		{"unknown long, as written", dumbInitOptions, getoptLongSyntax, []string{"--yolo=3", "app"}, optionError{mistake: unknownLong, option: "--yolo=3"}},
		{"getopt: --yolo is the short option '-'", tiniOptions, getoptSyntax, []string{"--yolo", "app"}, optionError{mistake: unknownShort, option: "--"}},
		{"getopt: -s then the short option '-'", tiniOptions, getoptSyntax, []string{"-s-", "app"}, optionError{mistake: unknownShort, option: "--"}},
		{"missing short value", tiniOptions, getoptSyntax, []string{"-e"}, optionError{mistake: missingValue, option: "-e", valueName: "EXIT_CODE"}},
		{"missing long value, full name", dumbInitOptions, getoptLongSyntax, []string{"--rew"}, optionError{mistake: missingValue, option: "--rewrite", valueName: "s:r"}},
		{"unexpected value, full name", dumbInitOptions, getoptLongSyntax, []string{"--sing=1", "app"}, optionError{mistake: unexpectedValue, option: "--single-child"}},
		{"ambiguous, in table order", dumbInitOptions, getoptLongSyntax, []string{"--ver=1", "app"},
			optionError{mistake: ambiguousLong, option: "--ver=1", candidates: []string{"verbose", "version"}}},
		{"an empty name abbreviates them all", dumbInitOptions, getoptLongSyntax, []string{"--=x", "app"},
			optionError{mistake: ambiguousLong, option: "--=x", candidates: []string{"help", "single-child", "rewrite", "verbose", "version"}}},
		{"an empty name abbreviates the only one", catatonitOptions, getoptLongSyntax, []string{"--=x", "app"}, optionError{mistake: unexpectedValue, option: "--version"}},
		{"bad value", tiniOptions, getoptSyntax, []string{"-ez", "app"}, optionError{mistake: badValue, option: "-e", value: "z"}},
		{"bad long value", dumbInitOptions, getoptLongSyntax, []string{"--re", "15", "app"}, optionError{mistake: badValue, option: "--rewrite", value: "15"}},
		{"pidone: no abbreviations", pidoneOptions, pidoneSyntax, []string{"--wait", "app"}, optionError{mistake: unknownLong, option: "--wait"}},
		{"pidone: no empty name", pidoneOptions, pidoneSyntax, []string{"--=x", "app"}, optionError{mistake: unknownLong, option: "--=x"}},
	} {
		oe := parseInto(defaultSettings(), tc.args, tc.table, tc.syn)
		if oe == nil {
			t.Errorf("%s: %q parsed, want %+v", tc.doc, tc.args, tc.want)
			continue
		}
		if (tc.want.mistake == badValue) != (oe.err != nil) {
			t.Errorf("%s: %q: err %v", tc.doc, tc.args, oe.err)
		}
		got := *oe
		got.err = nil
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q: got %+v, want %+v", tc.doc, tc.args, got, tc.want)
		}
	}
}

func TestGetoptLongAbbreviations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want settings
	}{
		{[]string{"--sing", "--verb", "--r", "15:3", "app"}, settings{noSetsid: true, peerDebug: true}},
		{[]string{"--single-child", "app"}, settings{noSetsid: true}},
	} {
		s := defaultSettings()
		if oe := parseInto(s, tc.args, dumbInitOptions, getoptLongSyntax); oe != nil {
			t.Errorf("%q: %v", tc.args, oe)
			continue
		}
		if s.noSetsid != tc.want.noSetsid || s.peerDebug != tc.want.peerDebug || !reflect.DeepEqual(s.command, []string{"app"}) {
			t.Errorf("%q: %+v, want %+v", tc.args, s, tc.want)
		}
	}
	s := defaultSettings()
	if oe := parseInto(s, []string{"--vers"}, catatonitOptions, getoptLongSyntax); oe != nil || !s.showVersion {
		t.Errorf("catatonit --vers: %v, showVersion %v; want --version", oe, s.showVersion)
	}
}

// tiniUsageStart is how tini's usage (pidone's words) begins.
const tiniUsageStart = "tini (tini version "

func TestPeerUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		argv0 string
		parse func(string, []string, envFunc) peerCall
		args  []string
		// want is stderr exactly, or its start when more follows
		// (tini's usage text).
		want string
		more string // "": nothing may follow
	}{
		{"/usr/bin/tini", parseTini, []string{"-z", "true"}, "/usr/bin/tini: invalid option -- 'z'\n", tiniUsageStart},
		{"/usr/bin/tini", parseTini, []string{"--yolo", "true"}, "/usr/bin/tini: invalid option -- '-'\n", tiniUsageStart},
		{"/usr/bin/tini", parseTini, []string{"--version", "true"}, "/usr/bin/tini: invalid option -- '-'\n", tiniUsageStart},
		{"/usr/bin/tini", parseTini, []string{"-e"}, "/usr/bin/tini: option requires an argument -- 'e'\n", tiniUsageStart},
		{"tini", parseTini, []string{"-s", "-p"}, "tini: option requires an argument -- 'p'\n", tiniUsageStart},
		{"/sbin/docker-init", parseTini, []string{"-z"}, "/sbin/docker-init: invalid option -- 'z'\n", "docker-init (tini version "},

		{"/usr/bin/dumb-init", parseDumbInit, []string{"--yolo", "true"}, "/usr/bin/dumb-init: unrecognized option '--yolo'\n", ""},
		{"/usr/bin/dumb-init", parseDumbInit, []string{"--yolo=3", "true"}, "/usr/bin/dumb-init: unrecognized option '--yolo=3'\n", ""},
		{"/usr/bin/dumb-init", parseDumbInit, []string{"-z", "true"}, "/usr/bin/dumb-init: invalid option -- 'z'\n", ""},
		{"dumb-init", parseDumbInit, []string{"-r"}, "dumb-init: option requires an argument -- 'r'\n", ""},
		{"dumb-init", parseDumbInit, []string{"--rewrite"}, "dumb-init: option '--rewrite' requires an argument\n", ""},
		{"dumb-init", parseDumbInit, []string{"--single-child=1", "true"}, "dumb-init: option '--single-child' doesn't allow an argument\n", ""},
		{"dumb-init", parseDumbInit, []string{"--vers=3"}, "dumb-init: option '--version' doesn't allow an argument\n", ""},
		{"dumb-init", parseDumbInit, []string{"--ver", "true"}, "dumb-init: option '--ver' is ambiguous; possibilities: '--verbose' '--version'\n", ""},
		{"dumb-init", parseDumbInit, []string{"--rewrite=", "true"}, rewriteUsage, ""},
		{"./dumb-init", parseDumbInit, nil, "Usage: ./dumb-init [option] program [args]\nTry ./dumb-init --help for full usage.\n", ""},

		{"/usr/bin/catatonit", parseCatatonit, []string{"-z", "true"}, "/usr/bin/catatonit: invalid option -- 'z'\n" + catatonitUsage, ""},
		{"/usr/bin/catatonit", parseCatatonit, []string{"--yolo", "true"}, "/usr/bin/catatonit: unrecognized option '--yolo'\n" + catatonitUsage, ""},
		{"/usr/bin/catatonit", parseCatatonit, []string{"--help"}, "/usr/bin/catatonit: unrecognized option '--help'\n" + catatonitUsage, ""},
		{"catatonit", parseCatatonit, []string{"--version=3", "true"}, "catatonit: option '--version' doesn't allow an argument\n" + catatonitUsage, ""},
	} {
		c := tc.parse(tc.argv0, tc.args, env())
		switch {
		case !c.exit || c.code != usageExit || c.stdout != "":
			t.Errorf("%s %q: exit=%v code %d stdout %q, want exit %d and nothing on stdout", tc.argv0, tc.args, c.exit, c.code, c.stdout, usageExit)
		case tc.more == "" && c.stderr != tc.want:
			t.Errorf("%s %q: stderr\n%q\nwant\n%q", tc.argv0, tc.args, c.stderr, tc.want)
		case tc.more != "" && !strings.HasPrefix(c.stderr, tc.want+tc.more):
			t.Errorf("%s %q: stderr\n%.200q\nwant it to start with\n%q", tc.argv0, tc.args, c.stderr, tc.want+tc.more)
		}
	}
}

// TestPidoneWords: pidone's own mode says the same mistakes in its own
// words (and adds its did-you-mean line, TestDidYouMean*).
func TestPidoneWords(t *testing.T) {
	for _, tc := range []struct {
		e    optionError
		want string
	}{
		{optionError{mistake: unknownShort, option: "-z"}, "unknown option -z"},
		{optionError{mistake: unknownLong, option: "--yolo=3"}, "unknown option --yolo"},
		{optionError{mistake: ambiguousLong, option: "--ver", candidates: []string{"verbose", "version"}}, "option --ver is ambiguous: --verbose, --version"},
		{optionError{mistake: missingValue, option: "--remap-exit", valueName: "CODE"}, "option --remap-exit needs a CODE"},
		{optionError{mistake: unexpectedValue, option: "--wait-all"}, "option --wait-all takes no value"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}
