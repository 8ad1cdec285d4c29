#!/bin/sh
# provision.sh - the single source of truth for what the vnet-ebpf lab guest has.
#
# Used by:
#   vnet-lab build  : `provision.sh --list-packages [--kernel-suite S]` feeds mmdebstrap
#                     --include, then `provision.sh --configure --wheels DIR` runs inside
#                     the new root fs
#   Vagrantfile     : `provision.sh` (installs the packages with apt, then configures,
#                     taking the Python packages from PyPI)
# The same list serves every guest: Debian 12 (bookworm) and 13 (trixie).
#
# Usage: provision.sh [--list-packages | --configure] [--kernel-suite SUITE] [--wheels DIR]
#   --kernel-suite SUITE  take the kernel image and headers from SUITE (trixie-backports)
set -eu

here=$(cd "$(dirname "$0")" && pwd)

# linux-image-amd64 and linux-headers-amd64 are the metapackages: installed
# together they resolve to the current kernel ABI and its exactly matching
# headers, which BCC and the module build both need.
KERNEL_PACKAGES="
linux-image-amd64
linux-headers-amd64
"
# initramfs-tools is named because kernels since 7.x accept dracut too (and apt would
# pick dracut): the small initramfs of configure() below is made with initramfs-tools.
# tmux gives guest tests a real terminal of a set size to render `vnet-trace top` in;
# pipx installs the project's wheel the way a user would.
PACKAGES="
initramfs-tools
kmod
make
gcc
dwarves
python3
python3-pip
python3-bpfcc
python3-yaml
bpfcc-tools
bpftrace
bpftool
iproute2
iputils-ping
iperf3
ethtool
tcpdump
xdp-tools
procps
lz4
xz-utils
util-linux
less
dkms
tmux
pipx
"

list_packages() {
	for p in $KERNEL_PACKAGES; do echo "$p${kernel_suite:+/$kernel_suite}"; done
	for p in $PACKAGES; do echo "$p"; done
}

install_packages() {
	# Provisioning again (vagrant up on the lab's own box, maybe offline): nothing to fetch
	# when every package is already installed.
	missing=""
	for p in $(list_packages); do
		dpkg-query -W -f='${Status}\n' "${p%%/*}" 2>/dev/null | grep -qx 'install ok installed' ||
			missing="$missing ${p%%/*}"
	done
	if [ -z "$missing" ]; then
		echo "provision.sh: every package is installed"
		return 0
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2046
	apt-get install -y --no-install-recommends $(list_packages)
}

# The netlink witness: the kernel's own ynl CLI (tools/net/ynl) and its netlink specs
# (Documentation/netlink/specs), from Debian's linux-source-X.Y of the guest's kernel.
# Only those two folders are kept (under /opt/ynl/linux-X.Y), not the 150 MB package.
# Kernels before 6.12 (bookworm's 6.1 has no netdev family) are skipped.
install_ynl() {
	kver=$1
	mm=$(echo "$kver" | cut -d. -f1,2)
	major=${mm%.*}
	minor=${mm#*.}
	if [ "$major" -lt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -lt 12 ]; }; then
		echo "provision.sh: kernel $kver: no ynl (the netlink witness needs 6.12 or newer)"
		return 0
	fi
	top=/opt/ynl/linux-$mm
	# Provisioning again (vagrant up on the lab's own box): the 150 MB package only once.
	specs=$top/Documentation/netlink/specs
	if [ -f "$(cat /etc/vnet-lab/ynl-cli 2>/dev/null)" ] && [ -f "$specs/netdev.yaml" ] &&
		[ "$(cat /etc/vnet-lab/ynl-specs 2>/dev/null)" = "$specs" ]; then
		echo "provision.sh: ynl of linux-$mm is installed"
		install -m 0755 "$here/ynl.sh" /usr/local/bin/ynl
		return 0
	fi
	export DEBIAN_FRONTEND=noninteractive
	src=linux-source-$mm
	apt-get install -y --no-install-recommends "$src"
	rm -rf "$top"
	mkdir -p "$top"
	tar -xJf "/usr/src/$src.tar.xz" -C "$top" --strip-components=1 --wildcards \
		'*/tools/net/ynl' '*/Documentation/netlink/specs'
	apt-get purge -y "$src"
	rm -f "/usr/src/$src.tar.xz"
	apt-get clean
	# tools/net/ynl/cli.py up to 6.13, tools/net/ynl/pyynl/cli.py since.
	for cli in "$top/tools/net/ynl/pyynl/cli.py" "$top/tools/net/ynl/cli.py" ""; do
		[ -f "$cli" ] && break
	done
	if [ -z "$cli" ] || [ ! -f "$specs/netdev.yaml" ]; then
		echo "provision.sh: $src has no ynl cli.py or no netdev spec" >&2
		exit 1
	fi
	echo "$specs" >/etc/vnet-lab/ynl-specs
	echo "$cli" >/etc/vnet-lab/ynl-cli
	install -m 0755 "$here/ynl.sh" /usr/local/bin/ynl
}

configure() {
	wheels=$1
	small_initrd=$2
	if [ -n "$wheels" ]; then
		pip_src="--no-index --find-links $wheels"
	else
		pip_src=""
	fi
	# Debian marks its Python as externally managed (PEP 668); the lab guest is a
	# throwaway machine whose only job is this project, so install system-wide.
	# --ignore-installed: pip cannot remove a Debian package's files (no RECORD), e.g.
	# python3-click that pipx brings; the pinned versions go to /usr/local, which is
	# ahead of Debian's on sys.path.
	# The pinned set once per requirements.txt: provisioning again (vagrant up on the
	# lab's own box) then needs no PyPI.
	mkdir -p /etc/vnet-lab
	pins=$({ cat "$here/requirements.txt"; python3 --version; } | sha256sum | cut -d' ' -f1)
	if [ "$(cat /etc/vnet-lab/requirements.sha256 2>/dev/null)" = "$pins" ]; then
		echo "provision.sh: the pinned Python packages are installed"
	else
		# shellcheck disable=SC2086
		python3 -m pip install --quiet --no-cache-dir --break-system-packages --ignore-installed \
			--root-user-action=ignore $pip_src -r "$here/requirements.txt"
		echo "$pins" >/etc/vnet-lab/requirements.sha256
	fi

	kver=$(ls /lib/modules | sort -V | tail -n 1)
	echo "$kver" > /etc/vnet-lab/kernel-release
	echo vnet-lab > /etc/hostname
	# A small initramfs, only in the roots vnet-lab builds (lab image, box): their boots
	# mostly run under software emulation, where unpacking Debian's default one (every
	# storage driver, zstd) costs seconds, and it only has to find an ext4 root on
	# virtio-blk.  A Vagrant VM of another box keeps Debian's: its disk may be SATA
	# (VirtualBox), which this one could not boot from.
	if [ "$small_initrd" = yes ]; then
		printf 'MODULES=list\nCOMPRESS=lz4\n' >/etc/initramfs-tools/conf.d/vnet-lab.conf
		grep -qx virtio_blk /etc/initramfs-tools/modules ||
			printf 'virtio_pci\nvirtio_blk\next4\n' >>/etc/initramfs-tools/modules
		update-initramfs -u -k "$kver" >/dev/null
	fi

	install_ynl "$kver"

	# PID 1 of lab runs, and the mount point of its per-run control share.
	install -m 0755 "$here/boot.sh" /usr/local/sbin/vnet-lab-boot
	mkdir -p /mnt/lab-ctl
}

mode=all
wheels=""
kernel_suite=""
while [ $# -gt 0 ]; do
	case "$1" in
	--list-packages) mode=list ;;
	--configure) mode=configure ;;
	--wheels) wheels=$2; shift ;;
	--kernel-suite) kernel_suite=$2; shift ;;
	*) echo "provision.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done

case "$mode" in
list) list_packages ;;
configure) configure "$wheels" yes ;;
all) install_packages; configure "$wheels" no ;;
esac
