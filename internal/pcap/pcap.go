// Package pcap records IPv4 datagrams as a pcap file that Wireshark and
// tcpdump open. It sits beside the device: webget --pcap hands it every
// datagram the stack reads from or writes to the TUN device, so the file
// shows both directions exactly as they crossed the wire.
package pcap

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// SnapLen is the most of a datagram the file keeps; longer ones are cut
// (the record still says how long they were). It is tcpdump's default,
// above any IPv4 datagram.
const SnapLen = 262144

// LinkType is the file's link type: raw IP, no link-layer header, which
// is what a TUN device without packet information carries.
const LinkType = layers.LinkTypeRaw

// Writer writes a pcap file. It is safe for concurrent use: the stack's
// reading and writing sides may record at once.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer // one record, so that each reaches w in one Write
	pw  *pcapgo.Writer
}

// NewWriter writes the pcap file header to w and returns a Writer that
// appends records to it. Each record goes to w in a single Write, so w
// needs no buffering or flushing and a file cut short by a crash still
// ends on a whole record.
func NewWriter(w io.Writer) (*Writer, error) {
	pw := &Writer{w: w}
	pw.pw = pcapgo.NewWriter(&pw.buf)
	if err := pw.pw.WriteFileHeader(SnapLen, LinkType); err != nil {
		return nil, fmt.Errorf("pcap: file header: %w", err)
	}
	if err := pw.flush(); err != nil {
		return nil, fmt.Errorf("pcap: file header: %w", err)
	}
	return pw, nil
}

// WritePacket records datagram as seen at time t.
func (w *Writer) WritePacket(t time.Time, datagram []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := datagram[:min(len(datagram), SnapLen)]
	ci := gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(data), Length: len(datagram)}
	if err := w.pw.WritePacket(ci, data); err != nil {
		w.buf.Reset()
		return fmt.Errorf("pcap: %w", err)
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	return nil
}

func (w *Writer) flush() error {
	defer w.buf.Reset()
	_, err := w.w.Write(w.buf.Bytes())
	return err
}
