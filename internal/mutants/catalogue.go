package mutants

// The files the mutants edit.
const (
	bytestreamGo  = "labs/0-bytestream/bytestream.go"
	reassemblerGo = "labs/1-reassembler/reassembler.go"
	wrap32Go      = "labs/2-receiver/wrap32.go"
	receiverGo    = "labs/2-receiver/receiver.go"
	senderGo      = "labs/3-sender/sender.go"
	connectionGo  = "labs/4-connection/connection.go"
)

// Catalogue lists the known student bugs, in lab order.
var Catalogue = []Mutant{
	// Lab 0: the byte stream.
	one("push-ignores-capacity", 0, "Push accepts every byte, not just what fits",
		bytestreamGo, "n := min(uint64(len(data)), w.AvailableCapacity())", "n := uint64(len(data))"),
	one("finished-when-closed", 0, "IsFinished is true as soon as the writer closes, before the reader popped everything",
		bytestreamGo, "return r.closed && r.pushed == r.popped", "return r.closed"),
	one("capacity-ignores-buffered", 0, "AvailableCapacity forgets the bytes still buffered",
		bytestreamGo, "return w.capacity - (w.pushed - w.popped)", "return w.capacity - w.pushed%(w.capacity+1)"),
	one("peek-past-buffered", 0, "Peek returns the rest of the ring, stale bytes included",
		bytestreamGo, "end := min(r.head+(r.pushed-r.popped), r.capacity)", "end := r.capacity"),
	one("push-after-close", 0, "Push still accepts bytes after Close",
		bytestreamGo, "	if w.closed {\n		return\n	}\n	n :=", "	n :="),
	one("popped-counts-pushed", 0, "BytesPopped reports the bytes pushed",
		bytestreamGo, "	return r.popped\n", "	return r.pushed\n"),

	// Lab 1: the reassembler.
	one("pending-double-counted", 1, "BytesPending counts bytes stored twice by overlapping substrings twice",
		reassemblerGo, "		r.heldBytes -= r.held[j].end - r.held[j].start\n", ""),
	one("close-on-last-substring", 1, "the output closes when the last substring arrives, not when every byte before it is written",
		reassemblerGo, "if r.hasEnd && w.BytesPushed() == r.end {", "if r.hasEnd {"),
	one("keeps-beyond-window", 1, "bytes beyond first unassembled + available capacity are kept",
		reassemblerGo, "limit := next + w.AvailableCapacity()", "limit := next + r.output.Capacity()"),
	one("end-lost-when-cut", 1, "the last substring's end is forgotten when capacity cuts it",
		reassemblerGo, "	if isLastSubstring {\n", "	if isLastSubstring && firstIndex+uint64(len(data)) <= w.BytesPushed()+w.AvailableCapacity() {\n"),
	one("drops-out-of-order", 1, "substrings that arrive early are thrown away instead of stored",
		reassemblerGo, "			r.store(start, data)\n", ""),
	one("window-off-by-one", 1, "the last byte that fits the window is dropped",
		reassemblerGo, "start, stop = max(start, next), min(stop, limit)", "start, stop = max(start, next), min(stop, limit-1)"),
	one("empty-last-substring-ignored", 1, "an empty last substring never closes the stream",
		reassemblerGo, "	if isLastSubstring {\n", "	if isLastSubstring && len(data) > 0 {\n"),

	// Lab 2: Wrap32 and the receiver.
	one("wrap-ignores-zero-point", 2, "Wrap forgets to add the zero point",
		wrap32Go, "return zeroPoint + Wrap32(uint32(n))", "return Wrap32(uint32(n))"),
	one("unwrap-checkpoint-zero", 2, "Unwrap special-cases checkpoint 0 and returns a number near 2^64",
		wrap32Go, "if delta < 0 && uint64(-int64(delta)) > checkpoint {", "if delta < 0 && uint64(-int64(delta)) > checkpoint && checkpoint != 0 {"),
	one("unwrap-same-block", 2, "Unwrap picks the candidate in the checkpoint's own 2^32 block, not the closest",
		wrap32Go, "	delta := int32(", "	return checkpoint&^0xFFFFFFFF | uint64(uint32(w-zeroPoint))\n	delta := int32("),
	one("unwrap-below-zero", 2, "Unwrap returns a 'negative' (huge) number near the start of the stream",
		wrap32Go, "if delta < 0 && uint64(-int64(delta)) > checkpoint {", "if false {"),
	{Name: "repeated-fin-counted", Lab: 2, Why: "each FIN received adds one to the ackno, so a repeated FIN counts twice", File: receiverGo, Edits: []Edit{
		{"	synSeen   bool   // a SYN arrived, so zeroPoint is known\n", "	synSeen   bool   // a SYN arrived, so zeroPoint is known\n	fins      uint64\n"},
		{"	r.reassembler.Insert(index, msg.Payload, msg.FIN)\n", "	if msg.FIN {\n		r.fins++\n	}\n	r.reassembler.Insert(index, msg.Payload, msg.FIN)\n"},
		{"		if w.IsClosed() {\n			next++\n		}\n", "		if w.IsClosed() {\n			next += r.fins\n		}\n"},
	}},
	{Name: "fin-counted-early", Lab: 2, Why: "the FIN is counted in the ackno when it arrives, before the bytes ahead of it are assembled", File: receiverGo, Edits: []Edit{
		{"	synSeen   bool   // a SYN arrived, so zeroPoint is known\n", "	synSeen   bool   // a SYN arrived, so zeroPoint is known\n	finSeen   bool\n"},
		{"	r.reassembler.Insert(index, msg.Payload, msg.FIN)\n", "	r.finSeen = r.finSeen || msg.FIN\n	r.reassembler.Insert(index, msg.Payload, msg.FIN)\n"},
		{"		if w.IsClosed() {\n			next++\n		}\n", "		if r.finSeen {\n			next++\n		}\n"},
	}},
	one("fin-only-segment-ignored", 2, "a segment with no payload is ignored even when it carries FIN",
		receiverGo, "	index := abs - 1\n", "	if len(msg.Payload) == 0 && !msg.SYN {\n		return\n	}\n	index := abs - 1\n"),
	one("data-in-syn-seqno", 2, "a segment without SYN that reuses the ISN's seqno has its data accepted as stream index 0",
		receiverGo, "	if !msg.SYN && abs == 0 {\n		// Only the SYN may use the ISN's sequence number.\n		return\n	}\n	index := abs - 1\n", "	index := max(abs, 1) - 1\n"),
	one("stale-checkpoint", 2, "Unwrap is always given checkpoint 0, so streams past 4 GiB go wrong",
		receiverGo, "checkpoint := w.BytesPushed() + 1", "checkpoint := uint64(0)"),
	one("rst-ignored", 2, "a received RST does not set the stream's error",
		receiverGo, "	if msg.RST {\n		w.SetError()\n		return\n	}\n", ""),
	one("window-not-capped", 2, "the window is the available capacity cut to 16 bits, not capped at 65535",
		receiverGo, "WindowSize: uint16(min(w.AvailableCapacity(), 65535)),", "WindowSize: uint16(w.AvailableCapacity()),"),
	one("ack-before-syn", 2, "the ACK flag is set before any SYN arrived",
		receiverGo, "	if r.synSeen {\n		// The SYN takes", "	if true {\n		// The SYN takes"),

	// Lab 3: the sender.
	one("accepts-ack-of-unsent", 3, "an ACK for sequence numbers never sent is taken as valid",
		senderGo, "	if ack > s.next {\n		return // acknowledges something never sent: ignore it all\n	}\n", ""),
	one("backoff-on-zero-window", 3, "the RTO doubles and retransmissions are counted while the window is zero",
		senderGo, "	if s.window > 0 {\n		s.rto *= 2", "	if true {\n		s.rto *= 2"),
	one("rto-not-reset", 3, "an ACK of new data does not reset the RTO to its initial value",
		senderGo, "s.rto, s.retxRuns = s.initialRTO, 0", "s.retxRuns = 0"),
	one("retransmit-latest", 3, "the timer retransmits the latest outstanding message, not the earliest",
		senderGo, "transmit(s.trimmed(s.outstanding[s.head]))", "transmit(s.trimmed(s.outstanding[len(s.outstanding)-1]))"),
	one("timer-restarted-on-send", 3, "every send restarts the retransmission timer",
		senderGo, "		if !s.timerOn {\n			s.timerOn, s.timer = true, 0\n		}\n", "		s.timerOn, s.timer = true, 0\n"),
	one("fin-beyond-window", 3, "FIN is sent even when the window has no room for it",
		senderGo, "if r.IsFinished() && room > 0 {", "if r.IsFinished() {"),
	one("payload-too-big", 3, "messages carry more than MaxPayloadSize bytes",
		senderGo, "n := min(room, uint64(s.maxPayload), r.BytesBuffered())", "n := min(room, r.BytesBuffered())"),
	one("zero-window-not-probed", 3, "a zero window is not treated as one, so the sender stalls forever",
		senderGo, "window := max(uint64(s.window), 1)", "window := uint64(s.window)"),
	one("timer-not-restarted-on-ack", 3, "an ACK of new data leaves the timer running from the old start",
		senderGo, "s.timerOn, s.timer = s.head < len(s.outstanding), 0", "s.timerOn = s.head < len(s.outstanding)"),
	one("partial-ack-forgets-message", 3, "a message only partly acknowledged is dropped from the outstanding queue",
		senderGo, "if seg.abs+seg.msg.SequenceLength() > ack {", "if seg.abs >= ack {"),
	one("rto-not-doubled", 3, "the RTO is not doubled after a timeout",
		senderGo, "		s.rto *= 2\n", ""),

	// Lab 4: the connection.
	one("linger-wrong-side", 4, "the side that received FIN first lingers, and the side that closed first does not",
		connectionGo, "if c.inbound.Writer().IsClosed() && !c.finSent() {", "if c.inbound.Writer().IsClosed() && c.finSent() {"),
	one("never-linger", 4, "no side ever lingers after a clean close",
		connectionGo, "	c.linger = true\n", "	c.linger = false\n"),
	one("acks-pure-acks", 4, "messages that occupy no sequence numbers are answered too: an ACK storm",
		connectionGo, "if !sent && (m.SequenceLength() > 0 || keepAlive) {", "if !sent && (m.SequenceLength() > 0 || keepAlive || !m.IsRST()) {"),
	one("keepalive-unanswered", 4, "a keep-alive (seqno one below the next expected) gets no answer",
		connectionGo, "if !sent && (m.SequenceLength() > 0 || keepAlive) {", "if !sent && m.SequenceLength() > 0 && !keepAlive {"),
	one("lingering-ignores-fin", 4, "while lingering, a retransmitted FIN is not answered",
		connectionGo, "	if !c.Active() {\n		return\n	}\n	if !c.synReceived()", "	if !c.Active() || c.finAcked() && c.inbound.Writer().IsClosed() {\n		return\n	}\n	if !c.synReceived()"),
	one("passive-sends-early", 4, "a listener sends before it has received a SYN",
		connectionGo, "if !c.Active() || (!c.connected && !c.synReceived()) {", "if !c.Active() {"),
	one("never-gives-up", 4, "too many consecutive retransmissions never abort the connection",
		connectionGo, "if c.sender.ConsecutiveRetransmissions() > c.cfg.MaxRetransmissions {", "if false {"),
	one("rst-ignored-by-connection", 4, "a received RST on a synchronized connection is ignored",
		connectionGo, "	if m.IsRST() {\n		c.abort()\n		return\n	}\n", ""),
	one("linger-too-short", 4, "the linger lasts one RTO instead of ten",
		connectionGo, "c.sinceRecv < 10*c.cfg.InitialRTO", "c.sinceRecv < c.cfg.InitialRTO"),
	one("linger-timer-not-reset", 4, "the linger timer is not restarted by a message that arrives while lingering",
		connectionGo, "	c.sinceRecv = 0\n", ""),
	one("retx-gives-up-early", 4, "the connection aborts at MaxRetransmissions, not past it",
		connectionGo, "ConsecutiveRetransmissions() > c.cfg.MaxRetransmissions", "ConsecutiveRetransmissions() >= c.cfg.MaxRetransmissions"),
}
