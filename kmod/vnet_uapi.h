/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vnet_uapi.h - the userspace interface of /dev/vnet, vnet's backend, and
 * the map of the registers ethtool -d dumps (at the end).
 *
 * A process opens /dev/vnet (a misc device, mode 0600) and binds the file to an
 * existing vnet device with VNET_BIND, naming the interface in the caller's
 * network namespace, as TUNSETIFF does for tun.  From then on the file is the
 * device's "wire":
 *
 *   read()   returns one whole Ethernet frame the stack transmitted (no FCS).
 *            -EMSGSIZE: the buffer is too small for the next frame (it stays;
 *            ioctl FIONREAD gives its length).
 *            -EAGAIN (O_NONBLOCK): no frame waits.
 *   write()  gives the device one received Ethernet frame (no FCS).
 *            -EINVAL: shorter than an Ethernet header or longer than the MTU
 *            plus the header and one VLAN tag, MTU + 18 (counted in
 *            rx_length_errors).
 *            -EAGAIN (O_NONBLOCK): the RX ring is full; without it, it waits.
 *            -ENETDOWN: the device is down.
 *   poll()   POLLIN: a frame waits; POLLOUT: the RX ring has room;
 *            POLLERR|POLLHUP: the device is gone.
 *
 * Every call on a file whose device was deleted fails with -ENXIO; on a file
 * never bound, with -EBADFD.  Closing the file returns the device to its
 * simulated hardware.  Usable from C and from Python (vnet_ebpf/backend.py
 * computes the same numbers): only fixed-size fields.
 */
#ifndef _UAPI_VNET_H
#define _UAPI_VNET_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VNET_DEV_PATH		"/dev/vnet"
#define VNET_IFNAMSIZ		16	/* IFNAMSIZ */

struct vnet_bind {
	char ifname[VNET_IFNAMSIZ];	/* in: NUL-terminated, in the caller's netns */
	__u32 flags;			/* in: 0 (no flags are defined yet) */
	__s32 ifindex;			/* out: the bound device's ifindex */
};

/* 0xEE 00-09 are pfrut's (ioctl-number.rst): ours are above them. */
#define VNET_IOC_MAGIC		0xEE

/*
 * Bind this file to a vnet device.  Needs CAP_NET_ADMIN in the device's
 * network namespace (-EPERM).  -ENODEV: no such device; -EINVAL: not a vnet
 * device, flags set, or this file is already bound; -EBUSY: another file is
 * bound to the device.
 */
#define VNET_BIND		_IOWR(VNET_IOC_MAGIC, 0xE0, struct vnet_bind)
/* Which device this file is bound to (ifname as the device is named now). */
#define VNET_GET_BIND		_IOR(VNET_IOC_MAGIC, 0xE1, struct vnet_bind)
/* FIONREAD (an int): the length of the frame the next read() returns, 0 if none. */

/*
 * ethtool -d: the simulated NIC's "registers", one __u32 each at these
 * indexes, in the host's byte order (struct ethtool_regs, version
 * VNET_REGS_VERSION).  A real NIC's driver copies them out of its BAR; ours
 * reads the ring indexes and interrupt state the hardware would hold.  The
 * interrupt bits are 0 on a device that is down.
 * `vnet-trace regs` decodes them (vnet_ebpf/regs.py has the same list).
 */
#define VNET_REGS_VERSION	1

enum vnet_reg {
	VNET_REG_TX_SIZE,	/* TX ring: descriptors */
	VNET_REG_TX_HEAD,	/* next descriptor the driver fills */
	VNET_REG_TX_DOORBELL,	/* the head the driver last told the NIC of */
	VNET_REG_TX_SENT,	/* backend: next descriptor its reader takes (it may
				 * read past the doorbell: it looks at the head) */
	VNET_REG_TX_TAIL,	/* next descriptor the completion frees */
	VNET_REG_RX_SIZE,	/* RX ring: buffers */
	VNET_REG_RX_HEAD,	/* next buffer the NIC fills */
	VNET_REG_RX_TAIL,	/* next buffer NAPI takes */
	VNET_REG_IRQ,		/* VNET_IRQ_* bits, below */
	VNET_REG_HW,		/* 0: the simulated NIC, 1: the backend (/dev/vnet) */
	VNET_REG_TX_USECS,	/* ethtool -C tx-usecs */
	VNET_REG_RX_USECS,	/* ethtool -C rx-usecs */
	VNET_REG_NUM,
};

#define VNET_IRQ_TX_PENDING	(1U << 0)	/* the TX-done interrupt is due */
#define VNET_IRQ_RX_PENDING	(1U << 1)	/* the RX interrupt is due (the
						 * simulated NIC: its generator runs) */
#define VNET_IRQ_TX_NAPI	(1U << 2)	/* the TX NAPI is scheduled */
#define VNET_IRQ_RX_NAPI	(1U << 3)	/* the RX NAPI is scheduled */
#define VNET_IRQ_TX_STOPPED	(1U << 4)	/* the stack's TX queue is stopped */

#endif /* _UAPI_VNET_H */
