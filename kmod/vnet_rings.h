/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnet_rings.h - the descriptor rings, shared with the BPF programs in bpf/.
 *
 * The tracer reads ring state (size, head, tail) straight out of these
 * structures from its probes, so this header is the one definition both sides
 * compile against: field offsets cannot drift.  It holds the rings and nothing
 * else of the driver: BPF programs see what a NIC's descriptor rings would
 * show, not the driver's private state.  Keep it free of code that BCC cannot
 * compile (inline helpers only, no module-only symbols).
 */
#ifndef VNET_RINGS_H
#define VNET_RINGS_H

#include <linux/types.h>

/*
 * Only pointers to these: the BPF programs compile this header without the
 * kernel's big headers (vnet_ebpf/probes/btf.py says why).
 */
struct net_device;
struct sk_buff;
struct page;
struct xdp_frame;
struct page_pool;
struct xdp_rxq_info;

/*
 * A TX descriptor holds either an skb from the stack (vnet_start_xmit) or an
 * XDP frame (XDP_TX, or ndo_xdp_xmit for frames redirected to us).  The ring
 * owns it until vnet_tx_complete() frees it, once the hardware is done with it:
 * the simulated hardware at due_ns (the tx-usecs in force when it was posted,
 * so that a later ethtool -C never moves a posted frame), the backend when its
 * reader has taken it.
 */
struct vnet_tx_desc {
	struct sk_buff *skb;
	struct xdp_frame *xdpf;
	u64 posted_ns;
	u64 due_ns;	/* when the simulated hardware has sent it */
	u8 proto;	/* enum vnet_proto, classified once at xmit */
	/*
	 * The hardware let go of the frame without sending it (the backend:
	 * too large for a read).  The completion frees it as tx_dropped, not
	 * as a sent packet.
	 */
	u8 dropped;
};

/*
 * Producers (vnet_start_xmit and the XDP posts, all under the TX queue lock)
 * and one consumer (vnet_tx_complete, the TX NAPI poll).  head and tail are free
 * running u32 counters: occupancy is head - tail, a slot is index & (size - 1).
 * Each side publishes its index with a release store and reads the other's
 * with an acquire load, so a slot is never reused before it is cleared.
 *
 * sent is the hardware's own pointer, as a NIC's DMA engine has one: with the
 * backend bound, the slots in [tail, sent) were read by its reader and wait
 * for the completion to free them; [sent, head) wait for the reader.
 */
struct vnet_tx_ring {
	struct vnet_tx_desc *desc;
	u32 size;
	u32 head;		/* next slot xmit fills; written by xmit only */
	u32 tail;		/* next slot completion frees; written by completion only */
	u32 wake_thresh;	/* free slots needed before a stopped queue wakes */
	u32 head_seen;		/* head when the last completion run began */
	u32 sent;		/* backend: next slot its reader takes */
	u32 doorbell;		/* head at the last doorbell (vnet_tx_doorbell) */
};

/* An RX descriptor: a page (from the ring's page pool) the "NIC" writes one frame into. */
struct vnet_rx_slot {
	struct page *page;
	u32 len;
	u32 hash;		/* the RSS hash the NIC computed (vnet_rss.c) */
	u8 hash_type;		/* enum pkt_hash_types: PKT_HASH_TYPE_NONE if none */
};

/*
 * Producer: the hardware (the simulated one's ARP generator, or the backend's
 * writer): the "NIC DMA".  Consumer: the NAPI poll.  Same counter convention
 * as the TX ring.
 */
struct vnet_rx_ring {
	struct vnet_rx_slot *slot;
	u32 size;
	u32 head;		/* next slot the hardware fills */
	u32 tail;		/* next slot NAPI consumes */
	u32 order;		/* buffers are 2^order pages, sized for the MTU */
	struct page_pool *pool;	/* where the buffers come from and return to */
	/* The queue's identity for XDP, registered with this ring's pool. */
	struct xdp_rxq_info *rxq;
};

/* The most queue pairs a device may have (ip link add ... numtxqueues). */
#define VNET_QUEUES_MAX		8

/*
 * What a tracer finds in a queue pair (struct vnet_queue): these members, in
 * this order, right behind the queue's RX NAPI, whose size the tracer reads
 * from the kernel's BTF.  So a probe on vnet_napi_poll(napi) finds the rings
 * at napi + sizeof(struct napi_struct), and vnet_tx_complete(q) at q plus the
 * same.  Checked where struct vnet_queue is defined.
 */
struct vnet_queue_view {
	struct net_device *dev;
	struct vnet_tx_ring tx;
	struct vnet_rx_ring rx;
	unsigned int index;		/* the queue pair's number */
};

/*
 * What a tracer finds at netdev_priv(dev): struct vnet_priv starts with these
 * members, in this order.  queue[i] points at queue pair i (its RX NAPI,
 * then its struct vnet_queue_view); a transmit is on queue[skb->queue_mapping].
 */
struct vnet_ring_view {
	struct net_device *dev;
	void *queue[VNET_QUEUES_MAX];
};

static inline u32 vnet_tx_used(const struct vnet_tx_ring *r)
{
	return r->head - r->tail;
}

static inline u32 vnet_rx_used(const struct vnet_rx_ring *r)
{
	return r->head - r->tail;
}

#endif /* VNET_RINGS_H */
