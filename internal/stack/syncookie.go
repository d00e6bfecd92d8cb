package stack

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"

	"tcplab/labs/2-receiver"
)

// SYN cookies (RFC 4987 §3.6): when a listener's half-open table is full,
// the stack answers a SYN without remembering it. Everything the handshake
// needs later is folded into the ISN of the SYN-ACK, and the ACK that
// returns it (acknowledging cookie+1) brings it back: the lab Connection is
// made only then. A flood of spoofed SYNs, whose SYN-ACKs go nowhere, costs
// a hash each and no memory.
//
// The ISN's 32 bits, as Linux lays them out near enough:
//
//	bits 31-27  the minute counter (mod 32) when the cookie was made
//	bits 26-24  the peer's MSS, as an index into cookieMSS
//	bits 23-0   a keyed hash of the 4-tuple, the peer's ISN, the counter
//	            and the MSS index
//
// A forger must guess 24 bits per try; a cookie is good for one to two
// counter periods.
//
// What a cookie loses: the stack keeps no state, so it does not retransmit
// the SYN-ACK (the peer retransmits its SYN instead), and the MSS is rounded
// down to the table. Window scaling is lost too: the peer's shift would
// need 4 more bits, and the 24-bit hash is what stands between a forger
// and a connection. Linux keeps the shift in the timestamp option, which
// the stack does not send (endpoint.go says why), and without timestamps
// a Linux cookie connection does not scale either. So a cookie's SYN-ACK
// does not answer the peer's offer, and its connection advertises and
// reads 16-bit windows. The stack uses cookies only past the table's
// bound, as Linux does (net.ipv4.tcp_syncookies = 1), so only connections
// made during a SYN flood pay for it.

// cookiePeriod is how long one counter value lasts. A cookie is accepted in
// the period it was made and the next (Linux: 64 s, up to 2 minutes).
const cookiePeriod = 64 * time.Second

// cookieMSS are the MSS values a cookie can carry: the common ones (Linux's
// msstab), each rounded down to; a cookie never lets us send more than
// the peer asked for.
var cookieMSS = [8]uint16{64, 536, 1024, 1200, 1360, 1400, 1440, 1460}

// cookieJar makes and checks cookies with a secret drawn when the stack
// starts.
type cookieJar struct {
	secret [32]byte
	start  time.Time // counters count cookiePeriods from here
}

func newCookieJar(now time.Time) cookieJar {
	var j cookieJar
	_, _ = rand.Read(j.secret[:]) // crypto/rand.Read never fails
	j.start = now
	return j
}

// counter is the period number at now.
func (j *cookieJar) counter(now time.Time) uint32 {
	return uint32(now.Sub(j.start) / cookiePeriod)
}

// make returns the ISN for a SYN-ACK answering the peer's SYN (peerISN)
// from remote to local, which announced mss (0: none).
func (j *cookieJar) make(local, remote netip.AddrPort, peerISN receiver.Wrap32, mss uint16, now time.Time) receiver.Wrap32 {
	if mss == 0 {
		mss = defaultMSS
	}
	idx := 0
	for i, m := range cookieMSS {
		if m <= mss {
			idx = i
		}
	}
	c := j.counter(now) % 32
	return receiver.Wrap32(c<<27 | uint32(idx)<<24 | j.hash(local, remote, peerISN, c, uint32(idx)))
}

// check reports whether cookie is one this jar made lately for the peer
// whose ISN was peerISN, and the MSS it carries.
func (j *cookieJar) check(local, remote netip.AddrPort, peerISN, cookie receiver.Wrap32, now time.Time) (mss uint16, ok bool) {
	c, idx := uint32(cookie)>>27, uint32(cookie)>>24&7
	if age := (j.counter(now) - c) % 32; age > 1 {
		return 0, false
	}
	if j.hash(local, remote, peerISN, c, idx) != uint32(cookie)&0xffffff {
		return 0, false
	}
	return cookieMSS[idx], true
}

// hash is the low 24 bits of SHA-256 over the secret and the cookie's
// inputs. (A keyed hash is what matters; SHA-256 costs well under a
// microsecond, which 10,000 SYNs a second can afford.)
func (j *cookieJar) hash(local, remote netip.AddrPort, peerISN receiver.Wrap32, counter, idx uint32) uint32 {
	var b [32 + 4 + 2 + 4 + 2 + 4 + 4 + 1]byte
	n := copy(b[:], j.secret[:])
	l4, r4 := local.Addr().As4(), remote.Addr().As4()
	n += copy(b[n:], l4[:])
	binary.BigEndian.PutUint16(b[n:], local.Port())
	n += 2
	n += copy(b[n:], r4[:])
	binary.BigEndian.PutUint16(b[n:], remote.Port())
	n += 2
	binary.BigEndian.PutUint32(b[n:], uint32(peerISN))
	n += 4
	binary.BigEndian.PutUint32(b[n:], counter)
	n += 4
	b[n] = byte(idx)
	sum := sha256.Sum256(b[:])
	return binary.BigEndian.Uint32(sum[:4]) & 0xffffff
}
