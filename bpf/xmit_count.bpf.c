// SPDX-License-Identifier: GPL-2.0
/*
 * Counts frames handed to vnet_start_xmit() for one interface.
 *
 * The smallest real probe of the project: a kprobe on the driver's
 * ndo_start_xmit, filtered by ifindex (never by name), counting in a per-CPU
 * array so that CPUs never contend on one cache line.
 */
#include <linux/netdevice.h>
#include <linux/skbuff.h>

BPF_PERCPU_ARRAY(xmit_frames, u64, 1);

int on_xmit(struct pt_regs *ctx, struct sk_buff *skb, struct net_device *dev)
{
	int zero = 0;
	u64 *count;

	if (dev->ifindex != IFINDEX)
		return 0;
	count = xmit_frames.lookup(&zero);
	if (count)
		(*count)++;
	return 0;
}
