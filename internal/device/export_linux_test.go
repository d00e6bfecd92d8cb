package device

// SetOffloadHook replaces the TUNSETOFFLOAD ioctl for a test that plays a
// kernel refusing offloads, and returns a function that puts it back.
func SetOffloadHook(f func(fd, flags int) error) (restore func()) {
	old := setOffload
	setOffload = f
	return func() { setOffload = old }
}
