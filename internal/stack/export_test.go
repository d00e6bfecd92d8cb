package stack

// Held reports what s holds for its connections: live connections and
// TIME_WAIT records (for the external tests' memory figures).
func Held(s *Stack) (conns, timeWaits int) {
	_ = s.call(func() { conns, timeWaits = len(s.conns), len(s.timeWaits) })
	return conns, timeWaits
}
