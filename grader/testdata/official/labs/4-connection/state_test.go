package connection

import "testing"

// TestStateNames: every state prints as RFC 793 names it, and a value
// that is no state says so instead of panicking. (Kills gremlins'
// CONDITIONALS_BOUNDARY mutants of String's range check: s > 0 would print
// LISTEN as "State(?)", and <= len would index past the names.)
func TestStateNames(t *testing.T) {
	cases := []struct {
		s    State
		want string
	}{
		{LISTEN, "LISTEN"}, {SYN_SENT, "SYN_SENT"}, {SYN_RECEIVED, "SYN_RECEIVED"},
		{ESTABLISHED, "ESTABLISHED"}, {CLOSE_WAIT, "CLOSE_WAIT"}, {LAST_ACK, "LAST_ACK"},
		{FIN_WAIT_1, "FIN_WAIT_1"}, {FIN_WAIT_2, "FIN_WAIT_2"}, {CLOSING, "CLOSING"},
		{TIME_WAIT, "TIME_WAIT"}, {CLOSED, "CLOSED"}, {RESET, "RESET"},
		{RESET + 1, "State(?)"}, {-1, "State(?)"},
	}
	for _, tc := range cases {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tc.s), got, tc.want)
		}
	}
}
