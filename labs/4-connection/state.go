package connection

// State names where a connection is, in RFC 793's words. It is derived from
// the sender's and receiver's condition, for tests and traces; the
// connection itself never consults it.
type State int

// The states. RESET stands for every unclean end.
const (
	LISTEN State = iota
	SYN_SENT
	SYN_RECEIVED
	ESTABLISHED
	CLOSE_WAIT
	LAST_ACK
	FIN_WAIT_1
	FIN_WAIT_2
	CLOSING
	TIME_WAIT
	CLOSED
	RESET
)

var stateNames = [...]string{
	LISTEN:       "LISTEN",
	SYN_SENT:     "SYN_SENT",
	SYN_RECEIVED: "SYN_RECEIVED",
	ESTABLISHED:  "ESTABLISHED",
	CLOSE_WAIT:   "CLOSE_WAIT",
	LAST_ACK:     "LAST_ACK",
	FIN_WAIT_1:   "FIN_WAIT_1",
	FIN_WAIT_2:   "FIN_WAIT_2",
	CLOSING:      "CLOSING",
	TIME_WAIT:    "TIME_WAIT",
	CLOSED:       "CLOSED",
	RESET:        "RESET",
}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(?)"
}

// State returns the connection's state.
func (c *Connection) State() State {
	inbound := c.inbound.Writer()
	switch {
	case inbound.HasError() || c.outbound.Writer().HasError():
		return RESET
	case !c.synReceived():
		if c.synSent() {
			return SYN_SENT
		}
		return LISTEN
	case !c.synAcked():
		return SYN_RECEIVED
	}
	finReceived, finSent, finAcked := inbound.IsClosed(), c.finSent(), c.finAcked()
	switch {
	case !finReceived && !finSent:
		return ESTABLISHED
	case !finReceived && !finAcked:
		return FIN_WAIT_1
	case !finReceived:
		return FIN_WAIT_2
	case !finSent:
		return CLOSE_WAIT
	case !finAcked:
		if c.lingers() {
			return CLOSING
		}
		return LAST_ACK
	case c.Active():
		return TIME_WAIT
	}
	return CLOSED
}
