package device

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// tunNode is the character device every TUN device is made through.
const tunNode = "/dev/net/tun"

// CheckTUNAccess reports whether this process may open /dev/net/tun. Where
// it may not, the error is one line naming the node, its mode and owner,
// who we are, and the command that fixes it: opening the node is only the
// first step (making or attaching a device needs CAP_NET_ADMIN or the
// device's ownership), so distributions leave it 0666, but some ship it
// 0600, and then a normal user gets "permission denied" from every TUN
// program, including inside a user namespace, where root is still us.
func CheckTUNAccess() error {
	f, err := os.OpenFile(tunNode, os.O_RDWR, 0)
	if err == nil {
		return f.Close()
	}
	return tunNodeError(err)
}

// tunNodeError explains a failure to open /dev/net/tun.
func tunNodeError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%s does not exist: load the tun module (sudo modprobe tun), or pass the device into the container (--device %s): %w", tunNode, tunNode, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		st, serr := os.Stat(tunNode)
		if serr != nil {
			return fmt.Errorf("%s: %w", tunNode, err)
		}
		mode, owner := st.Mode().Perm(), "uid ?"
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			owner = userName(int(sys.Uid))
		}
		me := userName(os.Getuid())
		if !strings.HasPrefix(me, "uid ") {
			me += fmt.Sprintf(" (uid %d)", os.Getuid())
		}
		return fmt.Errorf("%s is mode %04o, owner %s, and %s may not open it: sudo chmod 0666 %s (the usual mode: opening it grants nothing by itself): %w",
			tunNode, uint32(mode), owner, me, tunNode, err)
	}
	return fmt.Errorf("%s: %w", tunNode, err)
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
