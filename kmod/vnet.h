/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnet.h - the driver's private state, shared with the BPF programs in bpf/.
 *
 * The tracer reads ring state (head, tail, size) straight out of these
 * structures from its kprobes, so this header is the one definition both sides
 * compile against: field offsets cannot drift.  Keep it free of code that BCC
 * cannot compile (inline helpers only, no module-only symbols).
 */
#ifndef VNET_H
#define VNET_H

#include <linux/hrtimer.h>
#include <linux/netdevice.h>
#include <linux/u64_stats_sync.h>

#define VNET_DRV_NAME		"vnet"

/* Ring sizes: powers of two so that an index wraps with a mask. */
#define VNET_RING_MIN		16
#define VNET_RING_MAX		4096
#define VNET_RING_DEFAULT	256

/* ethtool -C tx-usecs: how long the "hardware" takes to complete a frame. */
#define VNET_TX_USECS_MAX	1000000
#define VNET_TX_USECS_DEFAULT	20

/* Every generated ARP request is padded to the Ethernet minimum (no FCS). */
#define VNET_ARP_FRAME_LEN	ETH_ZLEN

/*
 * A TX descriptor.  The skb stays owned by the ring from vnet_start_xmit()
 * until vnet_tx_complete() frees it, posted_ns + tx_usecs later.
 */
struct vnet_tx_desc {
	struct sk_buff *skb;
	u64 posted_ns;
};

/*
 * Single producer (vnet_start_xmit, under the TX queue lock) and single
 * consumer (vnet_tx_complete, the TX-done timer).  head and tail are free
 * running u32 counters: occupancy is head - tail, a slot is index & (size - 1).
 */
struct vnet_tx_ring {
	struct vnet_tx_desc *desc;
	u32 size;
	u32 head;		/* next slot xmit fills; written by xmit only */
	u32 tail;		/* next slot completion frees; written by completion only */
	u32 wake_thresh;	/* free slots needed before a stopped queue wakes */
};

/* An RX descriptor: a page the "NIC" writes one frame into. */
struct vnet_rx_slot {
	struct page *page;
	u32 len;
};

/*
 * Producer: the RX generator (a soft hrtimer, the "NIC DMA").  Consumer: the
 * NAPI poll.  Same counter convention as the TX ring.
 */
struct vnet_rx_ring {
	struct vnet_rx_slot *slot;
	u32 size;
	u32 head;		/* next slot the generator fills */
	u32 tail;		/* next slot NAPI consumes */
};

/* Frames by EtherType, counted the same way on TX and RX. */
struct vnet_proto_stats {
	u64_stats_t arp, ipv4, ipv6, other;
};

/* Each stats block has exactly one writer context, as u64_stats_sync requires. */
struct vnet_tx_stats {			/* writer: vnet_start_xmit */
	struct u64_stats_sync syncp;
	u64_stats_t dropped;
	struct vnet_proto_stats proto;
	u64_stats_t queue_stopped;
	u64_stats_t queue_woken;	/* re-woken by xmit itself after a race */
	u64_stats_t busy;		/* NETDEV_TX_BUSY returns: should stay 0 */
};

struct vnet_txc_stats {			/* writer: vnet_tx_complete (or purge, quiesced) */
	struct u64_stats_sync syncp;
	u64_stats_t packets, bytes;	/* counted when the "hardware" completes them */
	u64_stats_t completions;	/* descriptors freed */
	u64_stats_t completion_runs;
	u64_stats_t queue_woken;
	u64_stats_t purged;		/* still in the ring at stop: dropped */
};

struct vnet_rx_stats {			/* writer: vnet_napi_poll */
	struct u64_stats_sync syncp;
	u64_stats_t packets, bytes;
	u64_stats_t dropped;		/* short frames, skb allocation failures */
	struct vnet_proto_stats proto;
	u64_stats_t napi_polls;
	u64_stats_t napi_budget_exhausted;
	u64_stats_t alloc_failed;
};

struct vnet_gen_stats {			/* writer: the RX generator timer */
	struct u64_stats_sync syncp;
	u64_stats_t arp_generated;
	u64_stats_t ring_full;		/* frames the generator could not place */
};

struct vnet_priv {
	struct net_device *dev;
	struct napi_struct napi;

	struct vnet_tx_ring tx;
	struct hrtimer tx_timer;	/* the "TX-done interrupt" */
	u32 tx_usecs;
	bool tx_enabled;		/* false while stopping: completion must not wake */

	struct vnet_rx_ring rx;
	struct hrtimer rx_timer;	/* the RX generator: "frames arriving" */

	/* Ring sizes requested with ethtool -G; applied when the rings are (re)built. */
	u32 tx_ring_size;
	u32 rx_ring_size;

	struct vnet_tx_stats tx_stats;
	struct vnet_txc_stats txc_stats;
	struct vnet_rx_stats rx_stats;
	struct vnet_gen_stats gen_stats;
	atomic64_t tx_timeouts;
};

static inline u32 vnet_tx_used(const struct vnet_tx_ring *r)
{
	return r->head - r->tail;
}

static inline u32 vnet_rx_used(const struct vnet_rx_ring *r)
{
	return r->head - r->tail;
}

#ifndef VNET_BPF
/* Driver-internal interfaces (not for BPF programs). */
#include <linux/if_ether.h>

/* Count one frame by the EtherType of its Ethernet header (inside the writer's syncp). */
static inline void vnet_count_proto(struct vnet_proto_stats *p, const void *frame)
{
	switch (((const struct ethhdr *)frame)->h_proto) {
	case htons(ETH_P_ARP):
		u64_stats_inc(&p->arp);
		break;
	case htons(ETH_P_IP):
		u64_stats_inc(&p->ipv4);
		break;
	case htons(ETH_P_IPV6):
		u64_stats_inc(&p->ipv6);
		break;
	default:
		u64_stats_inc(&p->other);
	}
}

#include <linux/bpf.h>
#include <linux/skbuff.h>

/* RX buffers are whole pages with room for XDP in front and skb_shared_info behind. */
#define VNET_RX_HEADROOM	XDP_PACKET_HEADROOM
#define VNET_RX_TAILROOM	SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
#define VNET_RX_MAX_FRAME	(PAGE_SIZE - VNET_RX_HEADROOM - VNET_RX_TAILROOM)

extern const struct ethtool_ops vnet_ethtool_ops;

/* vnet_tx.c */
netdev_tx_t vnet_start_xmit(struct sk_buff *skb, struct net_device *dev);
u64 vnet_tx_complete(struct vnet_priv *priv);
int vnet_tx_ring_alloc(struct vnet_priv *priv);
void vnet_tx_ring_free(struct vnet_priv *priv);
void vnet_tx_timer_init(struct vnet_priv *priv);
void vnet_tx_stop(struct vnet_priv *priv);

/* vnet_rx.c */
int vnet_rx_ring_alloc(struct vnet_priv *priv);
void vnet_rx_ring_free(struct vnet_priv *priv);
void vnet_rx_timer_init(struct vnet_priv *priv);
void vnet_rx_start(struct vnet_priv *priv);
void vnet_rx_stop(struct vnet_priv *priv);
int vnet_napi_poll(struct napi_struct *napi, int budget);
int vnet_rx_params_init(void);

/* vnet_main.c */
int vnet_rings_rebuild(struct net_device *dev, u32 tx_size, u32 rx_size);
void vnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s);
#endif

#endif /* VNET_H */
