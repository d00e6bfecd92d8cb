package device_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"tcplab/internal/device"
	"tcplab/internal/sandbox"
)

// readUntil reads datagrams from dev until one satisfies match, skipping
// the IPv6 chatter a fresh interface attracts (LINUX-NOTES), and gives up
// after a bounded number so a missing datagram fails instead of hanging.
func readUntil(t *testing.T, dev device.Device, match func(gopacket.Packet) bool) gopacket.Packet {
	t.Helper()
	buf := make([]byte, dev.MTU())
	for range 50 {
		n, err := dev.Read(buf)
		require.NoError(t, err)
		p := gopacket.NewPacket(buf[:n], layers.LayerTypeIPv4, gopacket.Default)
		if p.ErrorLayer() == nil && match(p) {
			return p
		}
	}
	t.Fatal("50 datagrams and not the one expected")
	return nil
}

func TestTUN(t *testing.T) {
	t.Run("the kernel's SYN to the lab address comes out of the device", func(t *testing.T) {
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				var d net.Dialer
				if c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(env.LabAddr.String(), "80")); err == nil {
					c.Close()
				}
			})
			defer wg.Wait()
			defer cancel() // nothing will answer the SYN: stop the dial
			p := readUntil(t, env.Dev, func(p gopacket.Packet) bool {
				tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
				return ok && tcp.SYN && tcp.DstPort == 80
			})
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			require.Equal(t, env.KernelAddr.String(), ip.SrcIP.String())
			require.Equal(t, env.LabAddr.String(), ip.DstIP.String())
			tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			require.False(t, tcp.ACK, "an opening SYN acknowledges nothing")
			require.NotEmpty(t, tcp.Options, "Linux's SYN carries options (LINUX-NOTES)")
		})
	})

	t.Run("a ping written into the device is answered by the kernel", func(t *testing.T) {
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			ip := &layers.IPv4{
				Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4,
				SrcIP: env.LabAddr.AsSlice(), DstIP: env.KernelAddr.AsSlice(),
			}
			icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 144, Seq: 1}
			buf := gopacket.NewSerializeBuffer()
			require.NoError(t, gopacket.SerializeLayers(buf,
				gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
				ip, icmp, gopacket.Payload("tcplab")))
			n, err := env.Dev.Write(buf.Bytes())
			require.NoError(t, err)
			require.Equal(t, len(buf.Bytes()), n)
			p := readUntil(t, env.Dev, func(p gopacket.Packet) bool {
				reply, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
				return ok && reply.TypeCode.Type() == layers.ICMPv4TypeEchoReply && reply.Id == 144
			})
			require.Equal(t, "tcplab", string(p.Layer(layers.LayerTypeICMPv4).LayerPayload()))
			s := device.StatsOf(env.Dev)
			require.Equal(t, uint64(1), s.Written)
			require.NotZero(t, s.Read)
		})
	})

	t.Run("configure sets the MTU and the GSO cap the drop tests need", func(t *testing.T) {
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			require.NoError(t, device.Configure(env.Dev.Name(), device.Config{MTU: 1400, GSOMaxSegs: 1}))
			link, err := netlink.LinkByName(env.Dev.Name())
			require.NoError(t, err)
			require.Equal(t, 1400, link.Attrs().MTU)
			require.Equal(t, uint32(1), link.Attrs().GSOMaxSegs)
			require.NoError(t, device.Configure(env.Dev.Name(), device.Config{}), "configuring twice is harmless")
		})
	})

	t.Run("configuring a missing interface names it", func(t *testing.T) {
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			err := device.Configure("nosuch144", device.Config{})
			require.ErrorContains(t, err, "configure nosuch144")
		})
	})

	t.Run("a datagram larger than the MTU is refused", func(t *testing.T) {
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			_, err := env.Dev.Write(make([]byte, env.Dev.MTU()+1))
			require.ErrorContains(t, err, "exceeds the MTU")
		})
	})

	t.Run("close unblocks a reader with net.ErrClosed", func(t *testing.T) {
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			dev, err := device.OpenTUN("tun145", 1500)
			require.NoError(t, err)
			errc := make(chan error)
			go func() {
				// Read until the error, as TestOffloadTUNClose does: a
				// link that is never brought up gets no datagrams, but a
				// kernel that sent one first must not fail the test.
				for {
					if _, err := dev.Read(make([]byte, 1500)); err != nil {
						errc <- err
						return
					}
				}
			}()
			require.NoError(t, dev.Close())
			require.ErrorIs(t, <-errc, net.ErrClosed)
			_, err = net.InterfaceByName("tun145")
			require.Error(t, err, "a TUN device that was not persistent goes when closed")
		})
	})

	t.Run("opening a persistent device by name leaves it persistent", func(t *testing.T) {
		// water clears the persist flag on every open unless told
		// otherwise; a set-up script's tun144 would vanish after one
		// webget.
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			require.NoError(t, device.CreatePersistentTUN("tun147"))
			require.NoError(t, device.Configure("tun147", device.Config{KernelAddr: netip.MustParsePrefix("169.254.147.1/24")}))
			for i := range 2 {
				dev, err := device.OpenTUN("tun147", 1500)
				require.NoError(t, err, "open %d", i+1)
				require.NoError(t, dev.Close())
				_, err = net.InterfaceByName("tun147")
				require.NoError(t, err, "tun147 gone after open %d and close", i+1)
			}
		})
	})

	t.Run("a second opener of a device in use is told it is busy", func(t *testing.T) {
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			_, err := device.OpenTUN(env.Dev.Name(), 1500)
			require.ErrorIs(t, err, syscall.EBUSY)
			require.ErrorContains(t, err, "open TUN tun144")
		})
	})
}

func TestOpenTUNWithoutPermission(t *testing.T) {
	// A process in a user namespace of its own, unmapped, has no say over
	// the sandbox's network namespace: that is what an ordinary user
	// outside any sandbox looks like to the kernel.
	sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
		self, err := os.Executable()
		require.NoError(t, err)
		cmd := exec.Command(self, "-test.run=^TestHelperOpenTUNUnprivileged$", "-test.v=true")
		cmd.Env = []string{"TCPLAB_DEVICE_HELPER=1"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		t.Logf("%s", out)
		require.Contains(t, string(out), "--- PASS: TestHelperOpenTUNUnprivileged")
	})
}

func TestHelperOpenTUNUnprivileged(t *testing.T) {
	if os.Getenv("TCPLAB_DEVICE_HELPER") == "" {
		t.Skip("run by TestOpenTUNWithoutPermission")
	}
	dev, err := device.OpenTUN("tun146", 1500)
	if err == nil {
		dev.Close()
		t.Fatal("an unprivileged process opened a TUN device")
	}
	t.Log(err)
	require.ErrorIs(t, err, device.ErrNoPermission)
	require.ErrorIs(t, err, os.ErrPermission, "the cause is kept")
	require.ErrorContains(t, err, "open TUN tun146: permission denied: run as root or inside the sandbox")
}
