#!/bin/sh
# vnet-lab-boot: PID 1 of the lab guest (kernel command line: init=/usr/local/sbin/vnet-lab-boot).
#
# Kept tiny and stable because it is baked into the image: it only mounts the
# per-run control share and hands over to the init.sh the host put there, so that
# changing what a run does never needs a new image.  If anything here fails, PID 1
# exits, the kernel panics (panic=-1) and QEMU (-no-reboot) stops: the VM can
# never be left running.
# The initramfs hands over /proc, /sys and /dev already mounted.
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
modprobe -q 9pnet_virtio
modprobe -q 9p
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labctl /mnt/lab-ctl &&
	exec /bin/sh /mnt/lab-ctl/init.sh
echo "vnet-lab-boot: cannot mount the control share" >/dev/console
