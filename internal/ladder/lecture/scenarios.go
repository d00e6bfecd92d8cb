package lecture

import (
	"time"

	"tcplab/internal/ladder"
	"tcplab/labs/2-receiver"
)

func wrap(n uint32) receiver.Wrap32 { return receiver.Wrap32(n) }

// Scenario is one exchange of the lecture.
type Scenario struct {
	Name  string // file name stem: "three-way-handshake"
	Title string // as the lecture says it
	Run   func() *Net
}

// oneWay is the time a message spends in flight in these scenarios.
const oneWay = 10 * time.Millisecond

// Scenarios are the lecture's exchanges, in the order it tells them.
var Scenarios = []Scenario{
	{"three-way-handshake", "Three-way handshake: A opens, B answers, A acknowledges", threeWayHandshake},
	{"simultaneous-open", "Simultaneous open: both SYNs cross, four messages", simultaneousOpen},
	{"fin-with-data", "FIN with data: ackno = ISN + data + SYN + FIN", finWithData},
	{"sending-after-fin", "Sending after a FIN: B's stream goes on after A's ended", sendingAfterFIN},
	{"closing-with-linger", "Closing: A closed first, so A lingers", closingWithLinger},
	{"two-generals", "Two generals: A's last ACK is lost, B retransmits its FIN, A (lingering) answers", twoGenerals},
}

func threeWayHandshake() *Net {
	n := NewNet(6969, 100)
	n.Connect(ladder.A)
	n.Deliver(oneWay) // SYN arrives, B answers SYN+ACK
	n.Deliver(oneWay) // A answers ACK
	n.Deliver(oneWay)
	return n
}

func simultaneousOpen() *Net {
	n := NewNet(6969, 100)
	n.Connect(ladder.A)
	n.Connect(ladder.B)
	n.Deliver(oneWay) // both SYNs arrive; each answers with an ACK
	n.Deliver(oneWay)
	return n
}

func finWithData() *Net {
	n := NewNet(6969, 100)
	n.Connect(ladder.A)
	n.Deliver(oneWay)
	n.Deliver(oneWay)
	n.WriteAndClose(ladder.A, "hello, world!")
	n.Deliver(oneWay) // B acknowledges 6969 + 1 + 13 + 1 = 6984
	n.Deliver(oneWay)
	return n
}

func sendingAfterFIN() *Net {
	n := NewNet(6969, 100)
	n.Connect(ladder.A)
	n.Deliver(oneWay)
	n.Deliver(oneWay)
	n.Close(ladder.A)
	n.Deliver(oneWay)
	n.Write(ladder.B, "not")
	n.Deliver(oneWay)
	n.WriteAndClose(ladder.B, " done")
	n.Deliver(oneWay)
	n.Deliver(oneWay)
	n.Tick(10 * time.Second) // A lingers, then is done
	return n
}

func closingWithLinger() *Net {
	n := NewNet(6969, 100)
	n.Connect(ladder.A)
	n.Deliver(oneWay)
	n.Deliver(oneWay)
	n.Close(ladder.A) // message 1: A's FIN
	n.Deliver(oneWay)
	n.Close(ladder.B) // message 2: B's FIN (B already acknowledged A's)
	n.Deliver(oneWay) // message 3: A's ACK; B knows everything and is done
	n.Deliver(oneWay)
	n.Tick(10 * time.Second) // A cannot know message 3 arrived: it lingers
	return n
}

func twoGenerals() *Net {
	n := NewNet(6969, 100)
	n.Connect(ladder.A)
	n.Deliver(oneWay)
	n.Deliver(oneWay)
	n.Close(ladder.A)
	n.Deliver(oneWay)
	n.Close(ladder.B)
	n.Deliver(oneWay) // A acknowledges B's FIN...
	n.DropAll(oneWay) // ...and the ACK is lost
	n.Tick(time.Second)
	n.Deliver(oneWay) // B's FIN again; A is still there to answer it
	n.Deliver(oneWay)
	n.Tick(10 * time.Second)
	return n
}
