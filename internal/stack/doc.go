// Package stack runs lab Connections over a device and offers them to Go
// programs as sockets: (*Stack).Dial returns a net.Conn and (*Stack).Listen a
// net.Listener, so net/http, crypto/tls and io.Copy work over a student's
// TCP.
//
// It sits between the device and the labs in the data flow:
//
//	device → wire.Parse → Stack (demux by 4-tuple) → connection.Receive → ... → Read
//	Write → ... → connection transmit → wire.AppendTo → device
//
// One event-loop goroutine owns the device's write side and every
// Connection (the labs have no locks); a reader goroutine only moves raw
// datagrams from the device into a queue, and sockets hand their work to the
// loop and wait for its answer. The loop takes at most Config.Batch
// datagrams at a time and then serves the application (pending Reads and
// Writes, window updates, one coalesced ACK per connection) before taking
// more: a loop that drained the device first would let every ACK invite more
// data, fill the receive buffer and advertise a zero window.
//
// The device is a device.BatchDevice (New adapts a plain Device): the
// reader takes up to BatchSize datagrams per call into buffers that go
// round between it and the loop, and what the loop sends in one turn goes
// out in one Write, so the steady state allocates nothing. On a TUN with
// the kernel's offloads (device.OffloadTUN) a 64 KiB super-packet is read
// whole and handed to the Connection as one segment (a lab receiver takes
// a payload of any length), its TCP checksum left unchecked when the
// kernel vouches for it; and a turn's consecutive segments of a
// connection leave as one super-packet, which the kernel cuts up.
//
// What the stack adds around a lab Connection, because real peers and real
// applications need it and the Connection does not do it (coalesced and
// immediate ACKs, window updates, a window past 64 KiB with window scaling
// (RFC 7323) that never shrinks, the zero-window reserve, rate limit and
// probe backoff, the peer's MSS, the resets of RFC 9293 §3.10.7, the orphan
// timeout, aborting), lives in one type, endpoint (endpoint.go), whose doc
// comment lists each addition and why. A tcb (tcb.go) is an endpoint plus
// its place in the connection table and its socket's waiting calls.
//
// Each connection has a receive buffer (Config.ReceiveBuffer, 512 KiB by
// default), which its window is cut from, and a send buffer
// (Config.Connection.Capacity, 128 KiB), which bounds what Writes leave
// queued. The lab Connection gives both its streams one capacity, the
// larger; the stack holds each direction to its own figure. The lab sender
// honours 16-bit windows only, as the course defines it, so a connection
// receives with up to the whole buffer in flight but sends with at most
// 64 KiB.
//
// Around the connection table, what bounds a stack's memory whatever peers
// send: listen.go keeps each listener's half-open connections and its
// accept queue apart and bounded, as Linux does, and answers SYNs past the
// half-open bound with SYN cookies (syncookie.go), which hold nothing until
// the handshake completes; timewait.go replaces a closed connection in
// TIME_WAIT by a record of its last ACK, so lingering costs a few hundred
// bytes, not the Connection's buffers.
//
// Time comes from the time package (time.Now and timers), so tests run the
// whole stack inside testing/synctest bubbles and its timers never flake.
package stack
