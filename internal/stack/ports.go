package stack

import (
	"hash/maphash"
	"net/netip"
)

// Ephemeral ports (RFC 6335) that Dial picks from.
const (
	ephemeralFirst = 49152
	ephemeralLast  = 65535
	ephemeralCount = ephemeralLast - ephemeralFirst + 1
)

// portPicker chooses the local port of an active open the way Linux does
// (RFC 6056 §3.3.4, the double-hash algorithm): for each peer a keyed hash
// picks a starting point, and a counter kept per bucket of peers moves past
// every port handed out. Consecutive connections to one peer so take
// consecutive ports, and a 4-tuple comes back only after the whole range
// was used; a random pick reuses one within a few hundred connections,
// while the peer may still hold it in TIME_WAIT and answer our SYN with an
// ACK of the old connection. The keys keep the sequence unpredictable to
// anyone else.
type portPicker struct {
	offsetSeed, bucketSeed maphash.Seed
	perturb                [256]uint16
}

func newPortPicker() *portPicker {
	return &portPicker{offsetSeed: maphash.MakeSeed(), bucketSeed: maphash.MakeSeed()}
}

// pick returns the first port, in this peer's order, for which free says
// yes, or false if there is none.
func (pp *portPicker) pick(local netip.Addr, remote netip.AddrPort, free func(port uint16) bool) (uint16, bool) {
	type tuple struct {
		local  netip.Addr
		remote netip.AddrPort
	}
	t := tuple{local, remote}
	offset := uint32(maphash.Comparable(pp.offsetSeed, t))
	bucket := &pp.perturb[maphash.Comparable(pp.bucketSeed, t)%uint64(len(pp.perturb))]
	for i := range uint32(ephemeralCount) {
		p := uint16(ephemeralFirst + (offset+uint32(*bucket)+i)%ephemeralCount)
		if free(p) {
			*bucket += uint16(i + 1)
			return p, true
		}
	}
	return 0, false
}
