package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/stretchr/testify/require"

	"tcplab/labs/2-receiver"
)

// gopacket's layers are the independent decoder: what we write must read
// the same there, with checksums it agrees are right, and what it writes
// we must read.

// decodeGopacket decodes b with gopacket, or says why it could not.
func decodeGopacket(b []byte) (*layers.IPv4, *layers.TCP, error) {
	p := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.DecodeOptions{NoCopy: true})
	if e := p.ErrorLayer(); e != nil {
		return nil, nil, e.Error()
	}
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if ip == nil || tcp == nil {
		return nil, nil, fmt.Errorf("layers %v", p.Layers())
	}
	return ip, tcp, nil
}

// gopacketChecksums returns the checksums gopacket computes for the
// datagram b (its checksum fields zeroed first), to compare with the ones
// b carries.
func gopacketChecksums(t testing.TB, b []byte) (ipSum, tcpSum uint16) {
	t.Helper()
	ip, _, err := decodeGopacket(bytes.Clone(b))
	require.NoError(t, err)
	ihl := int(ip.IHL) * 4
	ip2 := *ip // gopacket re-encodes the header from its fields
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, ip2.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}))
	ipSum = ip2.Checksum

	zeroed := bytes.Clone(b)
	zeroed[ihl+16], zeroed[ihl+17] = 0, 0
	_, tcp, err := decodeGopacket(zeroed)
	require.NoError(t, err)
	require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
	tcpSum, err = tcp.ComputeChecksum()
	require.NoError(t, err)
	return ipSum, tcpSum
}

// fromGopacket is the segment gopacket's decoding says b holds, by this
// package's rules: the MSS is the first well-formed one on a SYN.
func fromGopacket(ip *layers.IPv4, tcp *layers.TCP) Segment {
	s := Segment{
		Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip.SrcIP.To4())), uint16(tcp.SrcPort)),
		Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip.DstIP.To4())), uint16(tcp.DstPort)),
		Message: receiver.Message{
			Sender: receiver.SenderMessage{
				Seqno: receiver.Wrap32(tcp.Seq), SYN: tcp.SYN, FIN: tcp.FIN, RST: tcp.RST,
			},
			Receiver: receiver.ReceiverMessage{ACK: tcp.ACK, Ackno: receiver.Wrap32(tcp.Ack), WindowSize: tcp.Window},
		},
	}
	if len(tcp.Payload) > 0 {
		s.Sender.Payload = tcp.Payload
	}
	if tcp.SYN {
		for _, o := range tcp.Options {
			if o.OptionType == layers.TCPOptionKindMSS && o.OptionLength == 4 {
				s.MSS = binary.BigEndian.Uint16(o.OptionData)
				break
			}
		}
	}
	return s
}

func randomAddrPort(rng *rand.Rand) netip.AddrPort {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], rng.Uint32())
	return netip.AddrPortFrom(netip.AddrFrom4(a), uint16(rng.Uint32()))
}

func randomPayload(rng *rand.Rand) []byte {
	var n int
	switch rng.IntN(4) {
	case 0:
		n = 0
	case 1:
		n = rng.IntN(8)
	case 2:
		n = rng.IntN(1461)
	default:
		n = rng.IntN(MaxDatagramLen - MaxHeaderLen + 1)
	}
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

func randomSegment(rng *rand.Rand) Segment {
	s := Segment{
		Src: randomAddrPort(rng), Dst: randomAddrPort(rng),
		Message: receiver.Message{
			Sender: receiver.SenderMessage{
				Seqno: receiver.Wrap32(rng.Uint32()),
				SYN:   rng.IntN(2) == 0, FIN: rng.IntN(2) == 0, RST: rng.IntN(4) == 0,
				Payload: randomPayload(rng),
			},
			Receiver: receiver.ReceiverMessage{
				ACK: rng.IntN(2) == 0, Ackno: receiver.Wrap32(rng.Uint32()),
				WindowSize: uint16(rng.Uint32()), RST: rng.IntN(4) == 0,
			},
		},
	}
	if rng.IntN(2) == 0 {
		s.MSS = uint16(rng.Uint32())
	}
	return s
}

func TestGopacketDecodesWhatWeWrite(t *testing.T) {
	const seed, n = 4, 500
	t.Logf("seed %d, %d segments", seed, n)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range n {
		s := randomSegment(rng)
		t.Run(fmt.Sprintf("%d %s", i, flagNames(s)), func(t *testing.T) {
			b := s.AppendTo(nil)
			ip, tcp, err := decodeGopacket(b)
			require.NoError(t, err)

			type ipFields struct {
				Version, IHL, TOS, TTL uint8
				Length, ID, FragOffset uint16
				Flags                  layers.IPv4Flag
				Protocol               layers.IPProtocol
				Src, Dst               net.IP
				Options                int
			}
			wantIP := ipFields{4, 5, 0, 64, uint16(len(b)), 0, 0, layers.IPv4DontFragment, layers.IPProtocolTCP,
				net.IP(s.Src.Addr().AsSlice()), net.IP(s.Dst.Addr().AsSlice()), 0}
			gotIP := ipFields{ip.Version, ip.IHL, ip.TOS, ip.TTL, ip.Length, ip.Id, ip.FragOffset, ip.Flags, ip.Protocol,
				ip.SrcIP, ip.DstIP, len(ip.Options)}
			if diff := cmp.Diff(wantIP, gotIP); diff != "" {
				t.Errorf("IPv4 header (-want +got):\n%s", diff)
			}

			type tcpFields struct {
				SrcPort, DstPort                           uint16
				Seq, Ack                                   uint32
				SYN, ACK, FIN, RST, PSH, URG, ECE, CWR, NS bool
				Window, Urgent                             uint16
				Options                                    []layers.TCPOption
				Padding                                    int
				Payload                                    []byte
			}
			want := tcpFields{
				SrcPort: s.Src.Port(), DstPort: s.Dst.Port(),
				Seq: uint32(s.Sender.Seqno), Ack: uint32(s.Receiver.Ackno),
				SYN: s.Sender.SYN, ACK: s.Receiver.ACK, FIN: s.Sender.FIN, RST: s.IsRST(),
				PSH:    len(s.Sender.Payload) > 0,
				Window: s.Receiver.WindowSize,
				Options: func() []layers.TCPOption {
					if s.Sender.SYN && s.MSS != 0 {
						return []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4,
							OptionData: binary.BigEndian.AppendUint16(nil, s.MSS)}}
					}
					return []layers.TCPOption{}
				}(),
				Payload: s.Sender.Payload,
			}
			got := tcpFields{uint16(tcp.SrcPort), uint16(tcp.DstPort), tcp.Seq, tcp.Ack,
				tcp.SYN, tcp.ACK, tcp.FIN, tcp.RST, tcp.PSH, tcp.URG, tcp.ECE, tcp.CWR, tcp.NS,
				tcp.Window, tcp.Urgent, tcp.Options, len(tcp.Padding), tcp.Payload}
			// As strings, a nil and an empty payload are the same.
			asString := cmp.Transformer("asString", func(p []byte) string { return string(p) })
			if diff := cmp.Diff(want, got, asString); diff != "" {
				t.Errorf("TCP header (-want +got):\n%s", diff)
			}

			ipSum, tcpSum := gopacketChecksums(t, b)
			require.Equal(t, ipSum, ip.Checksum, "IPv4 header checksum: gopacket computes %#04x, we wrote %#04x", ipSum, ip.Checksum)
			require.Equal(t, tcpSum, tcp.Checksum, "TCP checksum: gopacket computes %#04x, we wrote %#04x", tcpSum, tcp.Checksum)
		})
	}
}

// randomTCPOptions returns a list of options like real stacks send, in
// random order and number; gopacket pads it.
func randomTCPOptions(rng *rand.Rand) []layers.TCPOption {
	choices := []layers.TCPOption{
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindMSS, OptionData: binary.BigEndian.AppendUint16(nil, uint16(rng.Uint32()))},
		{OptionType: layers.TCPOptionKindSACKPermitted},
		{OptionType: layers.TCPOptionKindWindowScale, OptionData: []byte{byte(rng.IntN(15))}},
		{OptionType: layers.TCPOptionKindTimestamps, OptionData: binary.BigEndian.AppendUint64(nil, rng.Uint64())},
		{OptionType: layers.TCPOptionKindSACK, OptionData: binary.BigEndian.AppendUint64(nil, rng.Uint64())},
	}
	var opts []layers.TCPOption
	size := 0
	for range rng.IntN(6) {
		o := choices[rng.IntN(len(choices))]
		n := 1
		if o.OptionType != layers.TCPOptionKindNop {
			n = 2 + len(o.OptionData)
			o.OptionLength = uint8(n)
		}
		if size+n > 40 {
			break
		}
		size += n
		opts = append(opts, o)
	}
	return opts
}

func TestWeReadWhatGopacketWrites(t *testing.T) {
	const seed, n = 5, 500
	t.Logf("seed %d, %d datagrams", seed, n)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range n {
		s := randomSegment(rng)
		if len(s.Sender.Payload) > 1460 {
			s.Sender.Payload = s.Sender.Payload[:1460] // room for options
		}
		ip := &layers.IPv4{
			Version: 4, TOS: uint8(rng.Uint32()), Id: uint16(rng.Uint32()), TTL: uint8(rng.Uint32()),
			Protocol: layers.IPProtocolTCP,
			SrcIP:    s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice(),
		}
		if rng.IntN(2) == 0 {
			ip.Flags = layers.IPv4DontFragment
		}
		if rng.IntN(4) == 0 {
			// Router alert (RFC 2113), the IP option a host may actually see.
			ip.Options = []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}}
		}
		tcp := &layers.TCP{
			SrcPort: layers.TCPPort(s.Src.Port()), DstPort: layers.TCPPort(s.Dst.Port()),
			Seq: uint32(s.Sender.Seqno), Ack: uint32(s.Receiver.Ackno),
			SYN: s.Sender.SYN, FIN: s.Sender.FIN, RST: s.Sender.RST, ACK: s.Receiver.ACK,
			PSH: rng.IntN(2) == 0, URG: rng.IntN(8) == 0, ECE: rng.IntN(8) == 0, CWR: rng.IntN(8) == 0,
			Window: s.Receiver.WindowSize, Urgent: uint16(rng.Uint32()),
			Options: randomTCPOptions(rng),
		}
		require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
		buf := gopacket.NewSerializeBuffer()
		require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			ip, tcp, gopacket.Payload(s.Sender.Payload)))
		b := buf.Bytes()
		t.Run(fmt.Sprintf("%d %s with %d option bytes", i, flagNames(s), int(tcp.DataOffset)*4-20), func(t *testing.T) {
			dip, dtcp, err := decodeGopacket(bytes.Clone(b))
			require.NoError(t, err)
			want := fromGopacket(dip, dtcp)
			got, err := Parse(b)
			require.NoError(t, err)
			if diff := cmp.Diff(want, got, cmpSegment); diff != "" {
				t.Errorf("Parse (-gopacket +ours):\n%s", diff)
			}
		})
	}
}
