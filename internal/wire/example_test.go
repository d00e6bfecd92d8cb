package wire_test

import (
	"encoding/hex"
	"fmt"
	"net/netip"

	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
)

func ExampleParse() {
	// A SYN Linux wrote into tun144, with 20 bytes of options.
	b, _ := hex.DecodeString("4500003c44c54000400681efa9fe9001a9fe9009" +
		"95ba0050d2bc879500000000a002faf06a2e0000" +
		"020405b40402080a6c4b122e000000000103030a")
	s, err := wire.Parse(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s)

	b[30] ^= 1 // one bit of the sequence number
	_, err = wire.Parse(b)
	fmt.Println(err)
	// Output:
	// 169.254.144.1:38330 → 169.254.144.9:80 SYN seq=3535570837 ack=0 win=64240 len=0 mss=1460
	// TCP: bad checksum
}

func ExampleSegment_AppendTo() {
	s := wire.Segment{
		Src: netip.MustParseAddrPort("169.254.144.9:40000"),
		Dst: netip.MustParseAddrPort("169.254.144.1:80"),
		Message: receiver.Message{
			Sender:   receiver.SenderMessage{Seqno: 6969, SYN: true},
			Receiver: receiver.ReceiverMessage{WindowSize: 64000},
		},
		MSS: wire.MSSForMTU(1500),
	}
	buf := make([]byte, 0, 1500) // reused for every datagram: no allocation
	buf = s.AppendTo(buf[:0])
	fmt.Printf("%d bytes: % x\n", len(buf), buf)
	// Output:
	// 44 bytes: 45 00 00 2c 00 00 40 00 40 06 c6 c4 a9 fe 90 09 a9 fe 90 01 9c 40 00 50 00 00 1b 39 00 00 00 00 60 02 fa 00 72 54 00 00 02 04 05 b4
}
