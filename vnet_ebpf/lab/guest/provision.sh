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
socat
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

# The Debian archive the guest's apt uses: the first non-security http(s) URI of its
# sources (one-line or deb822 format), else deb.debian.org.
debian_mirror() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '($1 == "deb" && $2 ~ /^https?:/ && $2 !~ /security/) { print $2; exit }
		     ($1 == "URIs:" && $2 ~ /^https?:/ && $2 !~ /security/) { print $2; exit }' "$f"
	done | head -n 1 | grep . || echo http://deb.debian.org/debian
}

# The drivers/net selftests read `ethtool --json` for subcommands (-l, ...) that trixie's
# ethtool 6.14 prints only as text; the netdev CI runs a current ethtool.  Debian testing's
# (forky) is taken from the same archive, unpacked into DEST/bin for the suite's PATH
# alone: the rest of the lab keeps the release's own ethtool.  The guest's apt state is
# left as it was (a separate source list, package lists and cache).  The Release file's
# signature is checked, not its expiry date: a mirror snapshot's testing suite may be
# older than testing's one-week validity.
install_suite_ethtool() {
	dest=$1
	d=$(mktemp -d /var/tmp/ethtool-XXXXXX)
	chmod 0755 "$d"  # apt fetches as its own user, _apt
	mkdir -p "$d/lists/partial" "$d/archives/partial"
	echo "deb $(debian_mirror) forky main" >"$d/sources.list"
	set -- -o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache::Archives=$d/archives" \
		-o Acquire::Check-Valid-Until=false
	apt-get "$@" update
	(cd "$d" && apt-get "$@" download ethtool)
	dpkg-deb -x "$d"/ethtool_*.deb "$d/root"
	install -D -m 0755 "$d/root/usr/sbin/ethtool" "$dest/bin/ethtool"
	rm -rf "$d"
	"$dest/bin/ethtool" --version
}

# The kernel's own tools, from Debian's linux-source-X.Y of the guest's kernel (the 150 MB
# package is fetched once, then removed; only what is built from it is kept):
#   - the netlink witness: the ynl CLI (tools/net/ynl) and its netlink specs
#     (Documentation/netlink/specs), under /opt/ynl/linux-X.Y;
#   - the drivers/net selftests, built and installed as kselftest installs them
#     (run_kselftest.sh, the helpers and BPF objects) and the ethtool it expects, under
#     /opt/kselftest/linux-X.Y
#     (vnet-lab kselftest: vnet_ebpf/lab/kselftest.py).
# Kernels before 6.12 (bookworm's 6.1 has no netdev family) are skipped.
install_kernel_tools() {
	kver=$1
	mm=$(echo "$kver" | cut -d. -f1,2)
	major=${mm%.*}
	minor=${mm#*.}
	if [ "$major" -lt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -lt 12 ]; }; then
		echo "provision.sh: kernel $kver: no ynl nor drivers/net selftests (they need 6.12 or newer)"
		return 0
	fi
	top=/opt/ynl/linux-$mm
	kst=/opt/kselftest/linux-$mm
	# Provisioning again (vagrant up on the lab's own box): the 150 MB package only once.
	specs=$top/Documentation/netlink/specs
	if [ -f "$(cat /etc/vnet-lab/ynl-cli 2>/dev/null)" ] && [ -f "$specs/netdev.yaml" ] &&
		[ "$(cat /etc/vnet-lab/ynl-specs 2>/dev/null)" = "$specs" ] &&
		[ "$(cat /etc/vnet-lab/kselftest 2>/dev/null)" = "$kst" ] && [ -x "$kst/bin/ethtool" ]; then
		echo "provision.sh: ynl and the drivers/net selftests of linux-$mm are installed"
		install -m 0755 "$here/ynl.sh" /usr/local/bin/ynl
		return 0
	fi
	export DEBIAN_FRONTEND=noninteractive
	src=linux-source-$mm
	# What building the selftests takes, removed again after: clang for the BPF objects,
	# libelf and zlib for the libbpf they link, jsonschema for ynl's code generator, rsync
	# for kselftest's install.
	build_deps="clang libelf-dev zlib1g-dev python3-jsonschema rsync"
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends "$src" $build_deps
	rm -rf "$top" "$kst"
	tree=$(mktemp -d /var/tmp/linux-XXXXXX)
	tar -xJf "/usr/src/$src.tar.xz" -C "$tree" --strip-components=1
	apt-get purge -y "$src"
	rm -f "/usr/src/$src.tar.xz"
	mkdir -p "$top/tools/net" "$top/Documentation/netlink"
	cp -a "$tree/tools/net/ynl" "$top/tools/net/"
	cp -a "$tree/Documentation/netlink/specs" "$top/Documentation/netlink/"
	# The uapi headers the helpers build against, then drivers/net and the net/lib it uses.
	make -s -C "$tree" headers
	make -s -C "$tree/tools/testing/selftests" TARGETS="drivers/net net/lib" \
		INSTALL_PATH="$kst" install >/dev/null
	rm -rf "$tree"
	install_suite_ethtool "$kst"
	# shellcheck disable=SC2086
	apt-get purge -y --autoremove $build_deps
	apt-get clean
	if [ ! -x "$kst/bin/ethtool" ] || [ ! -f "$kst/drivers/net/ping.py" ]; then
		echo "provision.sh: the drivers/net selftests of $src did not install" >&2
		exit 1
	fi
	echo "$kst" >/etc/vnet-lab/kselftest
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

	install_kernel_tools "$kver"

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
