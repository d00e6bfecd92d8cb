#!/bin/sh
# tun144-setup.sh — give a real machine a persistent tun144 so webget and
# tcpcat can reach the internet through the lab TCP stack. Tests never use
# this: they make their own tun144 in a throwaway network namespace.
#
#   sudo scripts/tun144-setup.sh up   [USER]   # create, route, NAT
#   sudo scripts/tun144-setup.sh down          # undo all of it
#
# "up" creates tun144 owned by USER (default: whoever ran sudo), so that
# user's webget opens it without root; gives the kernel's side
# 169.254.144.1/24; turns on IPv4 forwarding; and masquerades what the lab
# stack (169.254.144.9) sends out of the default route's interface, with
# nftables if present, else iptables. The lab stack then reaches the world:
#
#   go run ./cmd/webget http://example.com/
#
# Forwarding is a machine-wide setting: "down" restores the value "up"
# found (saved in /run/tcplab-ip_forward).
set -eu

DEV=tun144
KERNEL_ADDR=169.254.144.1/24
NET=169.254.144.0/24
SAVED=/run/tcplab-ip_forward

die() { echo "tun144-setup: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (sudo $0 $*)"

uplink() {
	ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i+1); exit }}'
}

# can_open says whether $1 may open /dev/net/tun, which every TUN program
# opens before it attaches to a device, even one the user owns.
can_open() {
	[ "$(id -u "$1")" = 0 ] && return 0
	if command -v setpriv >/dev/null 2>&1; then
		setpriv --reuid="$1" --regid="$(id -g "$1")" --clear-groups sh -c ': <>/dev/net/tun' 2>/dev/null
	else
		su -s /bin/sh -c ': <>/dev/net/tun' "$1" 2>/dev/null
	fi
}

up() {
	user=${1:-${SUDO_USER:-root}}
	id -u "$user" >/dev/null 2>&1 || die "no user $user"
	# Checked before anything changes: with /dev/net/tun at 0600 (some
	# systems ship it so) the device would be the user's, and webget
	# would still fail with "permission denied".
	[ -e /dev/net/tun ] || die "/dev/net/tun does not exist: modprobe tun"
	can_open "$user" || die "$user cannot open /dev/net/tun (mode $(stat -c %04a /dev/net/tun), owner $(stat -c %U /dev/net/tun)), which webget and tcpcat open first: chmod 0666 /dev/net/tun (its usual mode: opening it grants nothing by itself), then run this again"
	out=$(uplink)
	[ -n "$out" ] || die "no default route: nothing to forward to"
	if ! ip link show "$DEV" >/dev/null 2>&1; then
		ip tuntap add dev "$DEV" mode tun user "$user"
	fi
	# A tun144 made earlier for someone else stays theirs.
	owner=$(ip -d link show "$DEV" | sed -n 's/.* tun type tun .*user \([^ ]*\).*/\1/p')
	case "$owner" in
	"$user" | "$(id -u "$user")") ;;
	"") [ "$(id -u "$user")" = 0 ] || die "$DEV exists and only root may use it, not $user: run $0 down first" ;;
	*) die "$DEV exists and belongs to $owner, not $user: run $0 down first" ;;
	esac
	ip addr replace "$KERNEL_ADDR" dev "$DEV"
	ip link set dev "$DEV" mtu 1500 up
	[ -e "$SAVED" ] || cat /proc/sys/net/ipv4/ip_forward >"$SAVED"
	sysctl -q -w net.ipv4.ip_forward=1
	if command -v nft >/dev/null 2>&1; then
		nft -f - <<NFT
table ip tcplab
delete table ip tcplab
table ip tcplab {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "$DEV" oifname "$out" accept
		iifname "$out" oifname "$DEV" ct state established,related accept
	}
	chain postrouting {
		type nat hook postrouting priority 100;
		ip saddr $NET oifname "$out" masquerade
	}
}
NFT
	elif command -v iptables >/dev/null 2>&1; then
		iptables -t nat -C POSTROUTING -s "$NET" -o "$out" -j MASQUERADE 2>/dev/null ||
			iptables -t nat -A POSTROUTING -s "$NET" -o "$out" -j MASQUERADE
		iptables -C FORWARD -i "$DEV" -o "$out" -j ACCEPT 2>/dev/null ||
			iptables -A FORWARD -i "$DEV" -o "$out" -j ACCEPT
		iptables -C FORWARD -i "$out" -o "$DEV" -m state --state ESTABLISHED,RELATED -j ACCEPT 2>/dev/null ||
			iptables -A FORWARD -i "$out" -o "$DEV" -m state --state ESTABLISHED,RELATED -j ACCEPT
	else
		die "neither nft nor iptables is installed (apt-get install nftables)"
	fi
	echo "tun144 is up for $user: kernel side ${KERNEL_ADDR}, lab stack 169.254.144.9, NAT out of $out"
}

down() {
	out=$(uplink)
	if command -v nft >/dev/null 2>&1; then
		nft delete table ip tcplab 2>/dev/null || true
	fi
	if command -v iptables >/dev/null 2>&1 && [ -n "$out" ]; then
		iptables -t nat -D POSTROUTING -s "$NET" -o "$out" -j MASQUERADE 2>/dev/null || true
		iptables -D FORWARD -i "$DEV" -o "$out" -j ACCEPT 2>/dev/null || true
		iptables -D FORWARD -i "$out" -o "$DEV" -m state --state ESTABLISHED,RELATED -j ACCEPT 2>/dev/null || true
	fi
	if [ -e "$SAVED" ]; then
		sysctl -q -w net.ipv4.ip_forward="$(cat "$SAVED")"
		rm -f "$SAVED"
	fi
	ip link del "$DEV" 2>/dev/null || true
	echo "tun144 removed"
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
*) echo "usage: $0 up [USER] | down" >&2; exit 2 ;;
esac
