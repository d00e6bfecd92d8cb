package stack

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPortPickerWalksTheWholeRangeBeforeReusingATuple(t *testing.T) {
	pp := newPortPicker()
	server := netip.MustParseAddrPort("169.254.144.1:8000")
	all := func(uint16) bool { return true }
	seen := make(map[uint16]bool)
	first, _ := pp.pick(stackAddr, server, all)
	seen[first] = true
	prev := first
	// Every connection closes before the next opens, as in a client that
	// fetches one URL after another: still no port comes back until all of
	// them were used.
	for range ephemeralCount - 1 {
		p, ok := pp.pick(stackAddr, server, all)
		require.True(t, ok)
		require.GreaterOrEqual(t, p, uint16(ephemeralFirst))
		require.False(t, seen[p], "port %d again after %d connections", p, len(seen))
		require.Equal(t, ephemeralFirst+(int(prev)-ephemeralFirst+1)%ephemeralCount, int(p), "the next port in this peer's order")
		seen[p] = true
		prev = p
	}
	p, _ := pp.pick(stackAddr, server, all)
	require.Equal(t, first, p, "then the cycle starts over")
}

func TestPortPickerSkipsPortsInUse(t *testing.T) {
	pp := newPortPicker()
	server := netip.MustParseAddrPort("169.254.144.1:80")
	inUse := make(map[uint16]bool)
	free := func(p uint16) bool { return !inUse[p] }
	for range 1000 {
		p, ok := pp.pick(stackAddr, server, free)
		require.True(t, ok)
		require.False(t, inUse[p])
		inUse[p] = true // every connection still open (or in TIME_WAIT)
	}
	_, ok := pp.pick(stackAddr, server, func(uint16) bool { return false })
	require.False(t, ok, "no port when all are taken")
}

func TestPortPickerStartsEachPeerElsewhere(t *testing.T) {
	pp := newPortPicker()
	all := func(uint16) bool { return true }
	starts := make(map[uint16]bool)
	for i := range 20 {
		peer := netip.AddrPortFrom(peerAddr, uint16(8000+i))
		p, _ := pp.pick(stackAddr, peer, all)
		starts[p] = true
	}
	// 20 keyed hashes into 16,384 ports: equal starts are possible but
	// many would mean the peer is not part of the hash.
	require.Greater(t, len(starts), 15, "starting ports of 20 peers")
}
