// SPDX-License-Identifier: GPL-2.0
/*
 * vnet_xdp.bpf.c - the XDP program `vnet-trace xdp` attaches.
 *
 * It counts every frame by EtherType and by the verdict it returns, in a
 * per-CPU array indexed [class][action], and decides that verdict from the
 * compile-time options BCC is given (-D...):
 *
 *   DROP_ARP=1      drop ARP frames
 *   DROP_EVERY=N    drop every Nth frame (N > 0), counted on each CPU
 *   ACTION=2|3|4    what the others get: XDP_PASS, XDP_TX or XDP_REDIRECT
 *                   (through the devmap redirect_to, slot 0, set by user space)
 *
 * Drop rules come first; the action applies to what they keep.  The counts
 * are of the verdict actually returned: a redirect whose devmap slot is empty
 * returns XDP_ABORTED and is counted there.
 */
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>	/* not <linux/if_ether.h>: it pulls in <linux/skbuff.h> */

#ifndef DROP_ARP
#define DROP_ARP 0
#endif
#ifndef DROP_EVERY
#define DROP_EVERY 0
#endif
/* XDP actions are enum values, invisible to #if: numbers, as in uapi/linux/bpf.h. */
#define ACT_PASS	2
#define ACT_TX		3
#define ACT_REDIRECT	4
#ifndef ACTION
#define ACTION ACT_PASS
#endif

/* Frame classes (mirrored in vnet_ebpf/probes/xdp.py). */
enum { K_ARP, K_IPV4, K_IPV6, K_OTHER, K_NUM };
#define N_ACTIONS	5	/* XDP_ABORTED .. XDP_REDIRECT */

BPF_PERCPU_ARRAY(verdicts, u64, K_NUM * N_ACTIONS);
BPF_PERCPU_ARRAY(seen, u64, 1);		/* frames per CPU, for DROP_EVERY */
BPF_DEVMAP(redirect_to, 1);

int vnet_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int cls = K_OTHER, zero = 0, drop, idx;
	u32 act = ACTION;
	u64 *n;

	if ((void *)(eth + 1) <= data_end) {
		if (eth->h_proto == htons(ETH_P_ARP))
			cls = K_ARP;
		else if (eth->h_proto == htons(ETH_P_IP))
			cls = K_IPV4;
		else if (eth->h_proto == htons(ETH_P_IPV6))
			cls = K_IPV6;
	}
	drop = DROP_ARP && cls == K_ARP;
	n = seen.lookup(&zero);
	if (n) {
		*n += 1;
#if DROP_EVERY > 0
		if (*n % DROP_EVERY == 0)
			drop = 1;
#endif
	}
	if (drop)
		act = XDP_DROP;
#if ACTION == ACT_REDIRECT
	else
		act = redirect_to.redirect_map(0, 0);	/* XDP_ABORTED if the slot is empty */
#endif
	if (act > XDP_REDIRECT)
		act = XDP_ABORTED;	/* cannot happen: keeps the index in bounds */
	idx = cls * N_ACTIONS + act;
	verdicts.increment(idx);
	return act;
}
