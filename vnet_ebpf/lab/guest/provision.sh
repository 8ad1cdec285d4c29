#!/bin/sh
# provision.sh - the single source of truth for what the vnet-ebpf lab guest has.
#
# Used by:
#   vnet-lab build  : `provision.sh --list-packages` feeds mmdebstrap --include, then
#                     `provision.sh --configure --wheels DIR` runs inside the new root fs
#   Vagrantfile     : `provision.sh` (installs the packages with apt, then configures,
#                     taking the Python packages from PyPI)
#
# Usage: provision.sh [--list-packages | --configure] [--wheels DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)

# Debian bookworm packages. linux-image-amd64 and linux-headers-amd64 are the
# metapackages: installed together they resolve to the current kernel ABI and its
# exactly matching headers, which BCC and the module build both need.
PACKAGES="
linux-image-amd64
linux-headers-amd64
kmod
make
gcc
dwarves
python3
python3-pip
python3-bpfcc
bpfcc-tools
bpftrace
bpftool
iproute2
iputils-ping
ethtool
tcpdump
xdp-tools
procps
lz4
util-linux
less
"

list_packages() {
	for p in $PACKAGES; do echo "$p"; done
}

install_packages() {
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $PACKAGES
}

configure() {
	wheels=$1
	if [ -n "$wheels" ]; then
		pip_src="--no-index --find-links $wheels"
	else
		pip_src=""
	fi
	# Debian marks its Python as externally managed (PEP 668); the lab guest is a
	# throwaway machine whose only job is this project, so install system-wide.
	# shellcheck disable=SC2086
	python3 -m pip install --quiet --no-cache-dir --break-system-packages \
		--root-user-action=ignore $pip_src -r "$here/requirements.txt"

	kver=$(ls /lib/modules | sort -V | tail -n 1)
	mkdir -p /etc/vnet-lab
	echo "$kver" > /etc/vnet-lab/kernel-release
	echo vnet-lab > /etc/hostname
	# A small initramfs: lab boots mostly run under software emulation, where
	# unpacking Debian's default one (every storage driver, zstd) costs seconds.
	# It only has to find an ext4 root on virtio-blk.
	printf 'MODULES=list\nCOMPRESS=lz4\n' >/etc/initramfs-tools/conf.d/vnet-lab.conf
	printf 'virtio_pci\nvirtio_blk\next4\n' >>/etc/initramfs-tools/modules
	update-initramfs -u -k "$kver" >/dev/null

	# PID 1 of lab runs, and the mount point of its per-run control share.
	install -m 0755 "$here/boot.sh" /usr/local/sbin/vnet-lab-boot
	mkdir -p /mnt/lab-ctl
}

mode=all
wheels=""
while [ $# -gt 0 ]; do
	case "$1" in
	--list-packages) mode=list ;;
	--configure) mode=configure ;;
	--wheels) wheels=$2; shift ;;
	*) echo "provision.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done

case "$mode" in
list) list_packages ;;
configure) configure "$wheels" ;;
all) install_packages; configure "$wheels" ;;
esac
