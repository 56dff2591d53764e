package main

import "testing"

func TestParseWrk(t *testing.T) {
	// wrk 4.1's summary, with both error lines (they appear only when
	// non-zero).
	out := `Running 30s test @ http://127.0.0.1:8080/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.60ms    2.17ms  62.26ms   92.16%
    Req/Sec    10.22k     1.31k   14.04k    60.00%
  610045 requests in 30.01s, 70.23MB read
  Socket errors: connect 1, read 8, write 2, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:  20327.51
Transfer/sec:      2.34MB
`
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{requests: 610045, connect: 1, read: 8, write: 2, timeout: 3, bad: 5, rps: 20327.51}
	if got != want || got.failed() != 19 {
		t.Errorf("got %+v (failed %d), want %+v (failed 19)", got, got.failed(), want)
	}

	clean, err := parseWrk("  720 requests in 1.01s, 365.62KB read\nRequests/sec:    714.34\n")
	if err != nil || clean.failed() != 0 || clean.requests != 720 {
		t.Errorf("a run without errors: %+v, %v", clean, err)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:8080 Connection refused\n"); err == nil {
		t.Error("wrk's failure to start was read as a result")
	}
}
