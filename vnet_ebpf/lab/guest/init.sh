#!/bin/sh
# init.sh: what one lab run does inside the guest.  The host copies it into the
# per-run control share (/mnt/lab-ctl) with:
#   env     shell assignments: SRC (checkout path), GUEST (the guest's name, e.g.
#           trixie), MODE (run|shell), LOAD (0|1), BUILD (0|1: build kmod/vnet.ko),
#           KMOD_DIGEST, ROWS/COLS (the host terminal's size at start) and
#           FOLLOW_SIZE (1: the host rewrites winsize when its terminal is resized)
#   cmd.sh  the command to run (MODE=run)
#   winsize "ROWS COLS" of the host terminal, replaced whole on each resize
# and reads back:
#   rc        the command's exit status
#   kmsg.log  the guest kernel log of the whole run
# Lines starting with @@vnet-lab@@ on the console are for the host, not the user.
set -u
ctl=/mnt/lab-ctl
# Marks are for the host reading a run; an interactive shell shows the console raw.
mark() { [ "${MODE:-run}" = shell ] || echo "@@vnet-lab@@ $*" >/dev/console; }
finish() {
	echo "$1" >"$ctl/rc"
	mark "end $1"
	sync
	kill "$dmesg_pid" ${winsize_pid:-} 2>/dev/null
	sleep 0.2
	sync
	echo o >/proc/sysrq-trigger
	sleep 30
}

. "$ctl/env"
# The console takes the host terminal's size, and follows it: Rich screens ask the
# tty on each render (nothing exports COLUMNS/LINES, which would pin them).
# /dev/console is ttyS0.
stty -F /dev/ttyS0 rows "${ROWS:-24}" cols "${COLS:-80}" 2>/dev/null
# Polls rather than waits: a 9p file has no change notification.  The control share
# is mounted without a cache (boot.sh: 9p's default, cache=none), so each read is
# the host's file of the moment.
follow_size() {
	size="${ROWS:-24} ${COLS:-80}"
	while sleep 0.5; do
		read -r rows cols <"$ctl/winsize" 2>/dev/null || continue
		case "$rows$cols" in
		'' | *[!0-9]*) continue ;;
		esac
		[ "$rows $cols" = "$size" ] && continue
		stty -F /dev/ttyS0 rows "$rows" cols "$cols" 2>/dev/null
		size="$rows $cols"
	done
}
winsize_pid=
if [ "${FOLLOW_SIZE:-0}" = 1 ]; then
	follow_size </dev/null >/dev/null 2>&1 &
	winsize_pid=$!
fi

mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
echo 1 >/proc/sys/kernel/sysrq
hostname vnet-lab
ip link set lo up

# The lab LAN (docs/lab.md): a virtio-net NIC on QEMU's user network, restricted to
# the guest, for tracing a real driver.  Nothing renames interfaces here (no udev), so
# the first NIC is eth0; its driver is a module the small initramfs does not load.
lan=eth0
[ -e /sys/class/net/$lan ] || modprobe -q virtio_net
if [ -e /sys/class/net/$lan ]; then
	# Before the link is up: no router solicitations nor DAD behind the tests' backs.
	sysctl -qw net.ipv6.conf.$lan.disable_ipv6=1
	ip addr add 10.0.2.15/24 dev $lan
	ip link set $lan up
	export VNET_LAB_LAN=$lan
else
	mark "status no $lan in the guest: running without the lab LAN"
fi

dmesg --follow >"$ctl/kmsg.log" 2>&1 &
dmesg_pid=$!

mkdir -p "$SRC"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none src "$SRC"; then
	echo "vnet-lab: cannot mount the checkout in the guest" >/dev/console
	finish 1
fi

export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Bytecode of the checkout's modules goes to the guest's /tmp, not into the shared
# checkout: without it each command compiled every module of ours from source, most of
# its start-up under emulation (docs/benchmarks.md).
export PYTHONPATH="$SRC" PYTHONPYCACHEPREFIX=/tmp/pycache TERM="${TERM:-linux}"
# VNET_LAB_IN_GUEST marks "inside the lab guest" (tests/vm skip themselves without it);
# VNET_LAB_GUEST names the guest (bookworm, trixie, trixie-backports).
export VNET_LAB_IN_GUEST=1 VNET_LAB_GUEST="${GUEST:-unknown}" VNET_LAB_CLOCK="${CLOCK:-wall}" VNET_LAB_ACCEL="${ACCEL:-tcg}"
# The project's console scripts, run from the shared checkout, through the same entry
# points as installed ones (vnet_ebpf/entry.py).  -S: the entry point's SIGINT handler is
# in place before site's imports, which it then runs itself.  env blocks SIGINT and
# SIGTERM first, and the entry point unblocks them once its handler is in: a Ctrl-C
# while the interpreter starts (slow under emulation) waits for it and gets its one line.
for tool in trace wire; do
	printf '#!/usr/bin/env -S --block-signal=INT,TERM python3 -S\nimport vnet_ebpf.entry\nvnet_ebpf.entry.%s()\n' \
		"$tool" >"/usr/local/bin/vnet-$tool"
	chmod +x "/usr/local/bin/vnet-$tool"
done
cd "$SRC" || finish 1

kver=$(uname -r)
# The driver is built per guest kernel in .lab/kbuild/<release>/ of the checkout, from a
# copy of kmod/: guests of different kernels can run at once on one checkout, and going
# back to a kernel finds its vnet.ko.  The build is skipped when kmod/ is unchanged since
# and vnet.ko is the file it produced.  It builds with the kernel's extra warnings (W=1)
# and keeps its output beside vnet.ko in build.log, which tests/vm/test_build.py reads:
# the module every test loads is the one checked for warnings, without a second build.
kbuild=.lab/kbuild/$kver
export VNET_LAB_KO="$SRC/$kbuild/vnet.ko"
stamp=$kbuild/.vnet-lab-built
if [ "$BUILD" = 1 ] && [ -f "$kbuild/vnet.ko" ] && [ -f "$stamp" ] &&
	[ -f "$kbuild/build.log" ] && [ "$(cat "$stamp")" = "$KMOD_DIGEST W=1 $(sha256sum <"$kbuild/vnet.ko")" ]; then
	BUILD=0
fi
if [ "$BUILD" = 1 ]; then
	mark "status building vnet.ko for $kver"
	# In the guest's own /tmp: files copied onto the shared checkout get the host's
	# clock, which make may find in the future ("clock skew" warnings), and objects
	# build faster off the share.  The results are then renamed into place: two VMs
	# of one kernel on one checkout (the full suite and the soak in CI) may build at
	# the same time.
	build=/tmp/kbuild-$kver
	tmp=$kbuild/.new-$(cat /proc/sys/kernel/random/uuid)
	rm -rf "$build" && mkdir -p "$build" "$kbuild" && cp kmod/*.c kmod/*.h kmod/Kbuild kmod/Makefile "$build/"
	cmd="make -s -C $build KDIR=/lib/modules/$kver/build W=1"
	echo "$cmd" >/tmp/kbuild.log
	if ! $cmd >>/tmp/kbuild.log 2>&1; then
		cat /tmp/kbuild.log >/dev/console
		echo "vnet-lab: building the driver for $kver failed (output above)" >/dev/console
		finish 1
	fi
	# Warnings are worth seeing even when the build succeeds.
	[ "$(wc -l </tmp/kbuild.log)" -gt 1 ] && cat /tmp/kbuild.log >/dev/console
	mkdir -p "$tmp" && cp "$build/vnet.ko" /tmp/kbuild.log "$tmp/" &&
		echo "$KMOD_DIGEST W=1 $(sha256sum <"$tmp/vnet.ko")" >"$tmp/stamp"
	mv -f "$tmp/kbuild.log" "$kbuild/build.log" && mv -f "$tmp/vnet.ko" "$kbuild/vnet.ko" &&
		mv -f "$tmp/stamp" "$stamp"
	rm -rf "$tmp" "$build"
fi
if [ "$LOAD" = 1 ]; then
	mark "status loading vnet.ko"
	if ! insmod "$VNET_LAB_KO"; then
		echo "vnet-lab: insmod $kbuild/vnet.ko failed (see the kernel log)" >/dev/console
		finish 1
	fi
fi

if [ "$MODE" = shell ]; then
	mark "start"
	echo "vnet-lab shell: checkout at $SRC, the driver built for $kver at \$VNET_LAB_KO ($kbuild/vnet.ko). Exit the shell to stop the VM."
	setsid -c /bin/bash -l </dev/ttyS0 >/dev/ttyS0 2>&1
	finish $?
fi

mark "start"
/bin/sh "$ctl/cmd.sh" </dev/null >/dev/console 2>&1
finish $?
