// Package device moves whole IPv4 datagrams in and out of the stack: a TUN
// device facing the Linux kernel, or an in-memory pair for tests. It is the
// first and last step of the data flow: device → wire (parse the IPv4 and
// TCP headers) → stack (find the connection) → connection, and back out
// through connection → wire → device.
//
// OpenTUN and Configure make tun144, the link between the kernel's TCP and
// the lab's (kernel side 169.254.144.1/24, lab side 169.254.144.9); package
// sandbox runs them inside a throwaway network namespace. Pipe joins two
// stacks in memory. Impair and ImpairReads make either kind of link lose,
// reorder and duplicate datagrams, reproducibly from a seed.
//
// OpenOffloadTUN opens a TUN with the kernel's offloads (IFF_VNET_HDR,
// checksum and TSO), falling back to fewer or none where the kernel
// refuses them. It moves datagrams in batches (BatchDevice, wireguard-go's
// shape): a 64 KiB super-packet comes in with one read and is split into
// segments (SplitGSO) or handed over whole (SetWhole), and a batch of a
// connection's consecutive segments goes out as one super-packet. Batch
// and Single adapt between Device and BatchDevice, both ways.
package device

// Device carries one IPv4 datagram per Read or Write, like a TUN device
// without packet information (wireguard-go's tun.Device, made smaller).
type Device interface {
	// Read blocks until a datagram arrives, copies it into p and returns
	// its length. After Close it returns an error wrapping net.ErrClosed.
	Read(p []byte) (int, error)
	// Write sends one datagram. The device does not keep p.
	Write(p []byte) (int, error)
	// MTU is the largest datagram the device carries.
	MTU() int
	// Name identifies the device in messages ("tun144", "pipe-a").
	Name() string
	Close() error
}
