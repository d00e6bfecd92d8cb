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

up() {
	user=${1:-${SUDO_USER:-root}}
	out=$(uplink)
	[ -n "$out" ] || die "no default route: nothing to forward to"
	if ! ip link show "$DEV" >/dev/null 2>&1; then
		ip tuntap add dev "$DEV" mode tun user "$user"
	fi
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
