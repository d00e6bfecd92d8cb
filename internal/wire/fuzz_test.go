package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tcplab/labs/2-receiver"
)

// FuzzParse checks that Parse never panics, that every error is one of the
// sentinels, that whatever parses survives AppendTo and Parse unchanged,
// and that gopacket, where it decodes the same bytes, reads the same
// segment. Random bytes almost never carry valid checksums, so each input
// is tried twice: as it is, and with its checksums repaired, which lets
// the fuzzer reach the option parsing and the comparisons.
func FuzzParse(f *testing.F) {
	for _, c := range captured {
		f.Add(mustHex(f, c.hex))
	}
	f.Add(mustHex(f, capturedIPv6RS))
	f.Add(seg(receiver.SenderMessage{Seqno: 1, SYN: true}, receiver.ReceiverMessage{WindowSize: 1}, 1460).AppendTo(nil))
	f.Add(seg(receiver.SenderMessage{Seqno: 1, FIN: true, Payload: []byte("bye")}, receiver.ReceiverMessage{ACK: true, Ackno: 9}, 0).AppendTo(nil))
	f.Add(seg(receiver.SenderMessage{RST: true}, receiver.ReceiverMessage{}, 0).AppendTo(nil))
	f.Add([]byte{0x45})

	f.Fuzz(func(t *testing.T, b []byte) {
		checkParse(t, b)
		if r := repairChecksums(b); r != nil {
			checkParse(t, r)
		}
	})
}

var sentinels = []error{ErrTruncated, ErrNotIPv4, ErrNotTCP, ErrFragment, ErrBadLength, ErrBadChecksum}

func checkParse(t *testing.T, b []byte) {
	orig := bytes.Clone(b)
	s, err := Parse(b)
	if !bytes.Equal(orig, b) {
		t.Fatalf("Parse modified its input")
	}
	if err != nil {
		n := 0
		for _, e := range sentinels {
			if errors.Is(err, e) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %q matches %d sentinels, want 1", err, n)
		}
		return
	}
	if !s.Src.Addr().Is4() || !s.Dst.Addr().Is4() {
		t.Fatalf("Parse gave non-IPv4 addresses: %v", s)
	}
	if s.Receiver.RST || (s.Sender.Payload != nil && len(s.Sender.Payload) == 0) || (!s.Sender.SYN && s.MSS != 0) {
		t.Fatalf("Parse gave a non-canonical segment: %#v", s)
	}
	_ = s.String()

	out := s.AppendTo(nil)
	if len(out) != s.Len() {
		t.Fatalf("AppendTo wrote %d bytes, Len says %d", len(out), s.Len())
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(AppendTo(%v)): %v", s, err)
	}
	if diff := cmp.Diff(s, again, cmpSegment); diff != "" {
		t.Fatalf("Parse(AppendTo(Parse(b))) (-first +second):\n%s", diff)
	}

	if ip, tcp, err := decodeGopacket(bytes.Clone(b)); err == nil {
		if diff := cmp.Diff(fromGopacket(ip, tcp), s, cmpSegment); diff != "" {
			t.Fatalf("Parse disagrees with gopacket (-gopacket +ours):\n%s", diff)
		}
	}
}

// repairChecksums returns a copy of b with its IPv4 and TCP checksums
// made valid, as far as its length fields allow, or nil if it has no
// IPv4 header to repair.
func repairChecksums(b []byte) []byte {
	if len(b) < IPv4HeaderLen || b[0]>>4 != 4 {
		return nil
	}
	ihl := int(b[0]&0xf) * 4
	if ihl < IPv4HeaderLen || ihl > len(b) {
		return nil
	}
	r := fixIP(bytes.Clone(b))
	if total := int(binary.BigEndian.Uint16(r[2:])); total >= ihl+TCPHeaderLen && total <= len(r) {
		r = fixTCP(r)
	}
	return r
}
