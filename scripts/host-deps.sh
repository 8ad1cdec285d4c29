#!/bin/sh
# Installs the host packages the lab needs, if any are missing (Debian/Ubuntu).
# Used by `make` and .ci/run; prints what to install when not root.
# `host-deps.sh vagrant`: also what `make vagrant-test` needs (Vagrant on libvirt).
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
if [ "${1:-}" = vagrant ]; then
	have vagrant || need="$need vagrant"
	[ -d /usr/share/rubygems-integration/all/gems ] && ls -d /usr/share/rubygems-integration/all/gems/vagrant-libvirt-* >/dev/null 2>&1 ||
		need="$need vagrant-libvirt"
	have libvirtd || need="$need libvirt-daemon-system"
	have dnsmasq || need="$need dnsmasq-base"
	have qemu-img || need="$need qemu-utils"
fi
have qemu-system-x86_64 || need="$need qemu-system-x86"
have mmdebstrap || need="$need mmdebstrap"
have mkfs.ext4 || need="$need e2fsprogs"
python3 -c 'import ensurepip, venv' 2>/dev/null || need="$need python3-venv"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "host-deps: missing packages: run \`sudo apt-get install$need\`" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
