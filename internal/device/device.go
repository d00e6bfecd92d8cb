// Package device moves whole IPv4 datagrams in and out of the stack: a TUN
// device facing the Linux kernel, or an in-memory pair for tests.
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
