package reportdoc

import "testing"

func TestDecodeIsStrict(t *testing.T) {
	for _, tc := range []struct {
		doc, json string
		ok        bool
	}{
		{"documented fields", `{"schema":1,"mode":"single","main_child":{"pid":7,"end":{"how":"exited","code":0}}}`, true},
		{"a field the docs do not list", `{"schema":1,"max_zombies":3}`, false},
		{"a misnamed field of a leftover", `{"leftovers":[{"pid":9,"parent":1}]}`, false},
	} {
		_, err := Decode([]byte(tc.json))
		if (err == nil) != tc.ok {
			t.Errorf("%s: Decode error %v, want ok %v", tc.doc, err, tc.ok)
		}
	}
}
