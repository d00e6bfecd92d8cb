package wire

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/stretchr/testify/require"

	"tcplab/labs/2-receiver"
)

func TestParseWindowScale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []byte
		shift uint8
		ok    bool
	}{
		{"none", nil, 0, false},
		{"alone", []byte{3, 3, 7}, 7, true},
		{"after MSS, SACK-permitted and timestamps, as Linux sends it",
			[]byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 10}, 10, true},
		{"a shift over 14 means 14 (RFC 7323 §2.3)", []byte{3, 3, 15}, MaxWindowScale, true},
		{"zero is an offer too: scaling on, factor 1", []byte{1, 3, 3, 0}, 0, true},
		{"the wrong length is skipped, as Linux skips it", []byte{3, 4, 7, 0, 3, 3, 5}, 5, true},
		{"after the end-of-options", []byte{0, 3, 3, 7}, 0, false},
		{"cut short", []byte{1, 3, 3}, 0, false},
		{"a malformed option before it ends the search", []byte{8, 1, 3, 3, 7}, 0, false},
		{"the first of two", []byte{3, 3, 2, 3, 3, 9}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shift, ok := ParseWindowScale(tc.opts)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.shift, shift)
		})
	}
}

func TestWindowScaleOfCapturedLinux(t *testing.T) {
	shift, ok := WindowScaleOf(mustHex(t, captured[0].hex))
	require.True(t, ok, "Linux's SYN offers window scaling")
	require.Equal(t, uint8(10), shift)
	for _, c := range captured[1:] {
		_, ok := WindowScaleOf(mustHex(t, c.hex))
		require.False(t, ok, "%s: only a SYN carries the option", c.name)
	}
	for _, b := range [][]byte{nil, {0x45}, mustHex(t, capturedIPv6RS), mustHex(t, captured[0].hex)[:30]} {
		_, ok := WindowScaleOf(b)
		require.False(t, ok)
	}
}

func TestAppendWithOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Segment
	}{
		{"a SYN offering MSS and window scale", seg(receiver.SenderMessage{Seqno: 6969, SYN: true}, receiver.ReceiverMessage{WindowSize: 65535}, 1460)},
		{"a SYN-ACK without MSS", seg(receiver.SenderMessage{Seqno: 1, SYN: true}, receiver.ReceiverMessage{ACK: true, Ackno: 5, WindowSize: 9}, 0)},
		{"with payload", seg(receiver.SenderMessage{Seqno: 1, SYN: true, Payload: []byte("hello")}, receiver.ReceiverMessage{WindowSize: 1}, 536)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("kept")
			b := tc.s.AppendWithOptions(bytes.Clone(prefix), AppendWindowScale(nil, 7))
			require.Equal(t, prefix, b[:4], "appends")
			d := b[4:]
			require.Equal(t, tc.s.Len()+WindowScaleOptionLen, len(d))

			got, err := Parse(d)
			require.NoError(t, err, "checksums and lengths are right")
			if diff := cmp.Diff(canonical(tc.s), got, cmpSegment); diff != "" {
				t.Fatalf("Parse (-want +got):\n%s", diff)
			}
			shift, ok := WindowScaleOf(d)
			require.True(t, ok)
			require.Equal(t, uint8(7), shift)

			// gopacket agrees: the checksums, and the options in order.
			ipSum, tcpSum := gopacketChecksums(t, d)
			ip, tcp, err := decodeGopacket(d)
			require.NoError(t, err)
			require.Equal(t, ipSum, ip.Checksum)
			require.Equal(t, tcpSum, tcp.Checksum)
			var kinds []layers.TCPOptionKind
			for _, o := range tcp.Options {
				kinds = append(kinds, o.OptionType)
			}
			want := []layers.TCPOptionKind{layers.TCPOptionKindNop, layers.TCPOptionKindWindowScale}
			if tc.s.MSS != 0 {
				want = append([]layers.TCPOptionKind{layers.TCPOptionKindMSS}, want...)
			}
			require.Equal(t, want, kinds)
			require.Equal(t, []byte{7}, tcp.Options[len(tcp.Options)-1].OptionData)
		})
	}
	require.Panics(t, func() {
		seg(receiver.SenderMessage{SYN: true}, receiver.ReceiverMessage{}, 0).AppendWithOptions(nil, []byte{1, 3, 3})
	},
		"options that are not whole words")
	require.Equal(t, []byte{1, 3, 3, 14}, AppendWindowScale(nil, 20), "never more than 14 offered")
}

// FuzzParseWindowScale checks ParseWindowScale against gopacket's option
// decoding: wherever gopacket reads the options cleanly up to the first
// end-of-options, the first window scale option of length 3 it lists is
// the one found.
func FuzzParseWindowScale(f *testing.F) {
	f.Add([]byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 10})
	f.Add([]byte{3, 4, 7, 0, 3, 3, 5})
	f.Add([]byte{3, 3, 200})
	f.Fuzz(func(t *testing.T, opts []byte) {
		if len(opts) > 40 {
			opts = opts[:40]
		}
		// A header holds whole words: zero bytes fill the last one.
		padded := append(bytes.Clone(opts), make([]byte, (4-len(opts)%4)%4)...)
		shift, ok := ParseWindowScale(padded)
		if ok && shift > MaxWindowScale {
			t.Fatalf("shift %d over %d", shift, MaxWindowScale)
		}
		hdr := make([]byte, TCPHeaderLen, TCPHeaderLen+len(padded))
		hdr[12] = byte((TCPHeaderLen+len(padded))/4) << 4
		hdr[13] = flagSYN
		hdr = append(hdr, padded...)
		p := gopacket.NewPacket(hdr, layers.LayerTypeTCP, gopacket.Default)
		if p.ErrorLayer() != nil {
			return // malformed for gopacket: nothing to compare
		}
		tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		wantOK, want := false, uint8(0)
		for _, o := range tcp.Options {
			if o.OptionType == layers.TCPOptionKindEndList {
				break
			}
			if o.OptionType == layers.TCPOptionKindWindowScale && o.OptionLength == 3 {
				wantOK, want = true, min(o.OptionData[0], MaxWindowScale)
				break
			}
		}
		if ok != wantOK || shift != want {
			t.Fatalf("options %x: got (%d, %t), gopacket (%d, %t)", padded, shift, ok, want, wantOK)
		}
	})
}
