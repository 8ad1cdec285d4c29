/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnet.h - the driver's private state and internal interfaces.
 *
 * The rings, which the BPF programs in bpf/ also read, are in vnet_rings.h;
 * the userspace interface of the backend (/dev/vnet) in vnet_uapi.h.
 */
#ifndef VNET_H
#define VNET_H

#include <linux/ethtool.h>
#include <linux/hrtimer.h>
#include <linux/indirect_call_wrapper.h>
#include <linux/smp.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/seqlock.h>
#include <linux/u64_stats_sync.h>
#include <net/xdp.h>
#include "vnet_compat.h"
#include "vnet_rings.h"

#define VNET_DRV_NAME		"vnet"

/* Ring sizes: powers of two so that an index wraps with a mask. */
#define VNET_RING_MIN		16
#define VNET_RING_MAX		4096
#define VNET_RING_DEFAULT	256

/* ethtool -C tx-usecs: how long the "hardware" takes to complete a frame. */
#define VNET_TX_USECS_MAX	1000000
#define VNET_TX_USECS_DEFAULT	20
/* ethtool -C rx-usecs: the backend's RX interrupt moderation. */
#define VNET_RX_USECS_MAX	VNET_TX_USECS_MAX
#define VNET_RX_USECS_DEFAULT	20

/* Every generated ARP request is padded to the Ethernet minimum (no FCS). */
#define VNET_ARP_FRAME_LEN	ETH_ZLEN

/* Jumbo frames without XDP; with XDP a frame must fit one page (VNET_XDP_MAX_MTU). */
#define VNET_MAX_MTU		9000

/* XDP_TX frames are queued during a poll and posted in one go at its end. */
#define VNET_XDP_TX_BULK	16

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
	/* Also under the TX queue lock: ndo_xdp_xmit, frames redirected to us. */
	u64_stats_t xdp_xmit;		/* queued on the TX ring */
	u64_stats_t xdp_xmit_errors;	/* refused (ring full, device down, multi-buffer):
					 * the caller frees them */
};

struct vnet_txc_stats {			/* writer: vnet_tx_complete (or purge, quiesced) */
	struct u64_stats_sync syncp;
	u64_stats_t packets, bytes;	/* counted when the "hardware" completes them */
	u64_stats_t completions;	/* descriptors freed */
	u64_stats_t completion_runs;
	u64_stats_t queue_woken;
	u64_stats_t purged;		/* still in the ring at stop: dropped */
	u64_stats_t hw_dropped;		/* let go by the hardware unsent: dropped */
};

struct vnet_rx_stats {			/* writer: vnet_napi_poll */
	struct u64_stats_sync syncp;
	u64_stats_t packets, bytes;	/* every good frame taken from the ring, XDP's too */
	u64_stats_t dropped;		/* good but not delivered: allocation
					 * failures, XDP drops and errors */
	/*
	 * Of those, the frames dropped before the stack saw them (no buffer
	 * to refill the slot, no skb): netdev.yaml's qstats rx-packets and
	 * rx-bytes leave them out, if_link.h's rx_packets counts them.
	 */
	u64_stats_t lost, lost_bytes;
	u64_stats_t length_errors;	/* shorter than an Ethernet header: not packets */
	struct vnet_proto_stats proto;
	u64_stats_t napi_polls;
	u64_stats_t napi_budget_exhausted;
	u64_stats_t alloc_failed;
	/* XDP verdicts: xdp_packets == pass + drop + tx + redirect + aborted. */
	u64_stats_t xdp_packets, xdp_pass, xdp_drop, xdp_tx, xdp_redirect;
	u64_stats_t xdp_aborted;	/* XDP_ABORTED and unknown actions */
	u64_stats_t xdp_tx_errors;	/* XDP_TX frames that could not be queued */
	u64_stats_t xdp_redirect_errors;	/* xdp_do_redirect() failures */
};

/*
 * One writer section of STATS around the statements given, counter updates
 * only.  On 32-bit machines u64_stats_sync is a seqcount whose readers spin
 * while a writer is inside: so nothing that takes long (the stack, a
 * program, an allocation) runs in one.  On 64-bit machines it compiles to
 * nothing.
 */
#define vnet_stats_update(stats, ...) do {				\
	u64_stats_update_begin(&(stats)->syncp);			\
	__VA_ARGS__;							\
	u64_stats_update_end(&(stats)->syncp);				\
} while (0)

/*
 * Read counters of STATS in the statements given, as one snapshot: they run
 * again if a writer was inside meanwhile (32-bit machines; on 64-bit, once).
 */
#define vnet_read_stats(stats, ...) do {				\
	unsigned int __start;						\
	do {								\
		__start = u64_stats_fetch_begin(&(stats)->syncp);	\
		__VA_ARGS__;						\
	} while (u64_stats_fetch_retry(&(stats)->syncp, __start));	\
} while (0)

struct vnet_gen_stats {			/* writer: the RX generator timer */
	struct u64_stats_sync syncp;
	u64_stats_t arp_generated;
	u64_stats_t udp_generated;	/* UDP datagrams of the flows (rx_proto udp4/udp6) */
	u64_stats_t tcp_generated;	/* TCP segments of the flows (rx_proto tcp4/tcp6) */
	u64_stats_t ring_full;		/* frames the generator could not place */
};

/* The backend's counters: its reader and writer are processes, so atomics. */
struct vnet_be_stats {
	atomic64_t tx_read;		/* frames its reader took off the TX ring */
	atomic64_t rx_written;		/* frames its writer put on the RX ring */
	atomic64_t rx_ring_full;	/* writes that found the RX ring full (waited or -EAGAIN) */
	atomic64_t rx_length_errors;	/* writes with a bad length: rx_length_errors */
	atomic64_t tx_too_big;		/* frames beyond what a read can carry: dropped */
	atomic64_t tx_stalls;		/* link downs: frames waited, the reader took none */
};

/*
 * What the RX generator sends, per device (/sys/class/net/DEV/vnet/).  rate and
 * burst are single words (READ_ONCE/WRITE_ONCE); the peer is two fields, so it
 * changes under a seqlock whose writers block BHs: the reader is the generator
 * timer, a softirq, which would otherwise spin forever on a writer it
 * interrupted on the same CPU.
 */
struct vnet_gen_cfg {
	u32 rate;			/* frames per second, 0 = off */
	u32 burst;			/* frames per tick: per RX interrupt */
	u32 proto;			/* what it sends: enum vnet_gen_proto */
	u32 flows;			/* UDP/TCP: how many flows, taken in turn */
	u32 size;			/* UDP/TCP: frame length, or VNET_GEN_SIZE_IMIX */
	seqlock_t peer_lock;
	u8 peer_mac[ETH_ALEN];
	__be32 peer_ip;
};

/* What the generator sends (/sys/class/net/DEV/vnet/rx_proto; vnet_flows.c). */
enum vnet_gen_proto {
	VNET_GEN_ARP,			/* ARP requests from the peer: the default */
	VNET_GEN_UDP4,
	VNET_GEN_TCP4,
	VNET_GEN_UDP6,
	VNET_GEN_TCP6,
	VNET_GEN_PROTO_NUM,
};

#define VNET_GEN_FLOWS_MAX	256
/* rx_size "imix": the simple IMIX, 7 small frames to 4 middle to 1 full (vnet_flows.c). */
#define VNET_GEN_SIZE_IMIX	0

/* One flow's next TCP sequence number and IPv4 ID: consecutive, so GRO can merge. */
struct vnet_gen_flow {
	u32 seq;
	u16 ip_id;
};

/*
 * RSS (vnet_rss.c): the Toeplitz key and the indirection table, as a NIC
 * keeps them in registers.  40 bytes and 128 entries, the sizes of many
 * NICs' (and of virtio_net's largest) and what ethtool shows.
 */
#define VNET_RSS_KEY_SIZE	40
#define VNET_RSS_INDIR_SIZE	128

struct vnet_rss {
	spinlock_t lock;	/* ethtool (RTNL) against the generator's timer */
	u8 key[VNET_RSS_KEY_SIZE];
	u32 indir[VNET_RSS_INDIR_SIZE];
};

/* The generator's own state across ticks; only its timer touches it. */
struct vnet_gen_state {
	u32 next_flow;			/* flows are taken in turn */
	u32 imix_pos;			/* where in the IMIX pattern */
	struct vnet_gen_flow flow[VNET_GEN_FLOWS_MAX];
};

/*
 * The hardware behind the rings.  Two implementations plug in here: the
 * simulated NIC (vnet_sim.c: the RX generator and tx-usecs completion) and
 * the backend (vnet_backend.c: a process on /dev/vnet is the wire).  The
 * rings and both NAPI polls call these without knowing which one is there.
 * Switched only with the device quiesced (RTNL held), so a data path reads
 * priv->hw once and never sees it change under it.
 */
struct vnet_priv;
struct vnet_queue;

struct vnet_hw_ops {
	const char *name;		/* /sys/class/net/DEV/vnet/hw */
	/*
	 * How long the TX queue may stay stopped before the core calls
	 * ndo_tx_timeout (dev->watchdog_timeo): well past this hardware's
	 * slowest completion, so that only a hung "NIC" fires it.
	 */
	int watchdog_timeo;
	/* The rings are live: start producing RX frames, consuming TX frames. */
	void (*start)(struct vnet_priv *priv);
	/* Stop touching the rings; when it returns, nothing of the hardware does. */
	void (*stop)(struct vnet_priv *priv);
	/* The doorbell: frames were posted on Q's TX ring (TX queue lock held). */
	void (*tx_kick)(struct vnet_queue *q, u64 delay_ns);
	/*
	 * Is the frame in slot IDX sent?  0: yes, free it; else the nanoseconds
	 * until it will be, or U64_MAX when that is not a matter of time.
	 */
	u64 (*tx_pending)(struct vnet_queue *q, const struct vnet_tx_desc *d,
			  u32 idx, u64 now);
	/* NAPI freed Q's RX slots (softirq): a producer waiting for room may go on. */
	void (*rx_room)(struct vnet_queue *q);
	/* Is an RX interrupt due on Q (ethtool -d)?  RTNL held. */
	bool (*rx_irq_pending)(struct vnet_queue *q);
};

struct vnet_backend;

/*
 * One queue pair: a TX ring and an RX ring with their NAPIs, interrupts and
 * counters, as a NIC's MSI-X vector serves one (ixgbe's q_vector, mlx5's
 * channel).  The stack picks a TX queue per frame (skb->queue_mapping); the
 * hardware picks an RX queue per frame (RSS, vnet_sim.c).  Queues 0 to
 * priv->num_queues - 1 are active (ethtool -L); the others keep their
 * counters (qstats reports them in the base) and hold no rings.
 */
struct vnet_queue {
	/*
	 * First, in this order: what tracers read.  The RX NAPI first, so that
	 * a probe on vnet_napi_poll(napi) holds the queue; then struct
	 * vnet_queue_view, right behind it (checked in vnet_main.c).
	 */
	struct napi_struct rx_napi;	/* RX: the hardware's frames, and XDP */
	struct net_device *dev;
	struct vnet_tx_ring tx;
	struct vnet_rx_ring rx;
	unsigned int index;		/* the stack's queue number, TX and RX */

	struct vnet_priv *priv;
	struct napi_struct tx_napi;	/* TX completion, as virtio_net's napi_tx */

	struct hrtimer tx_timer;	/* the "TX-done interrupt": schedules tx_napi */
	spinlock_t tx_timer_lock;	/* makes "arm unless due sooner" one step */
	bool tx_enabled;		/* false while stopping: completion must not wake */

	/*
	 * The RX interrupt, raised on irq_cpu as an MSI-X vector is steered
	 * to a CPU: the hardware raises it from wherever it runs, and the
	 * NAPI poll then runs on irq_cpu (vnet_rx_irq_raise()).
	 */
	call_single_data_t rx_irq;
	unsigned long irq_pending;	/* bit 0: raised, its handler not done */
	int irq_cpu;

	struct vnet_tx_stats tx_stats;
	struct vnet_txc_stats txc_stats;
	struct vnet_rx_stats rx_stats;
	struct vnet_gen_stats gen_stats;
	atomic64_t rx_purged;		/* in the RX ring when it was freed: rx_dropped */
};

struct vnet_priv {
	/* First, in this order: what tracers read (struct vnet_ring_view). */
	struct net_device *dev;
	struct vnet_queue *queue[VNET_QUEUES_MAX];

	/*
	 * Active queue pairs (ethtool -L).  Changed under RTNL with the data
	 * paths quiesced; read once by the generator and the XDP transmits.
	 */
	unsigned int num_queues;
	unsigned int max_queues;	/* fixed at creation: dev->num_tx_queues */

	const struct vnet_hw_ops *hw;	/* the NIC: simulated, or the backend */
	struct vnet_backend __rcu *be;	/* the /dev/vnet file bound, if any */

	u32 tx_usecs;
	/*
	 * The rings are stopped, and a start follows: an open, a ring rebuild
	 * or a switch of hardware is under way (RTNL).  A backend writer that
	 * finds the rings stopped waits for the start only then; otherwise the
	 * device is down and its write fails.  Not netif_running(): the core
	 * marks a device running before ndo_open and keeps it so until a
	 * failed ndo_open has returned, so a writer woken by the failure would
	 * go back to sleep for good.
	 */
	bool resume_pending;

	struct hrtimer rx_timer;	/* the RX generator: "frames arriving" */
	u32 rx_usecs;			/* backend: RX interrupt this long after a write */
	struct vnet_gen_cfg gen;
	struct vnet_rss rss;		/* how the NIC picks a frame's RX queue */
	struct vnet_gen_state gen_state;

	struct bpf_prog __rcu *xdp_prog;	/* native XDP, run in vnet_napi_poll */

	/*
	 * `ip link set DEV carrier off` (ndo_change_carrier): no link partner,
	 * as when the far end of the cable is down; vnet-wire sets it to follow
	 * the other device; closing the backend's file clears it.  The carrier
	 * is on only while the device runs, its partner is there and a
	 * backend's reader has not stalled.  A change of the partner or of the
	 * stall looks at the others under carrier_lock, so the last one sets
	 * the carrier with all three in view; open, stop and the rebuilds
	 * change it under RTNL, which ndo_change_carrier holds too.
	 */
	bool partner_down;
	spinlock_t carrier_lock;
	/*
	 * ethtool -t: the simulated NIC loops test frames from TX to RX.  Set
	 * under RTNL with a release (the generator is stopped before), read
	 * with an acquire by the TX completion; each looped frame takes one
	 * of loopback_budget, so no frame can go round and round.
	 */
	bool loopback;
	atomic_t loopback_budget;

	/* ethtool -s: what the port reports while it has a link (RTNL). */
	u32 link_speed;
	u8 link_duplex;

	/* Ring sizes requested with ethtool -G; applied when the rings are (re)built. */
	u32 tx_ring_size;
	u32 rx_ring_size;

	atomic64_t tx_timeouts;
	struct vnet_be_stats be_stats;
	/*
	 * The queue pairs themselves, in the device's own allocation: fixed at
	 * the most a device may have, so that nothing about them can fail.
	 */
	struct vnet_queue queues[VNET_QUEUES_MAX];
};

/* Each active queue pair Q of PRIV, in order. */
#define vnet_for_each_queue(priv, q)					\
	for (unsigned int __i = 0;					\
	     __i < (priv)->num_queues && ((q) = (priv)->queue[__i]); __i++)

#include <linux/if_ether.h>

/*
 * Install HW as the device's hardware, with the TX watchdog timeout that
 * hardware needs.  The callers hold RTNL with the data paths stopped (or the
 * device not yet registered).
 */
static inline void vnet_set_hw(struct vnet_priv *priv, const struct vnet_hw_ops *hw)
{
	WRITE_ONCE(priv->hw, hw);
	WRITE_ONCE(priv->dev->watchdog_timeo, hw->watchdog_timeo);
}

/*
 * tx-usecs in ns: how long the "hardware" takes to send a frame, and how far
 * apart its TX-done interrupts come (moderation; ethtool -C).
 */
static inline u64 vnet_tx_moderation_ns(const struct vnet_priv *priv)
{
	return (u64)READ_ONCE(priv->tx_usecs) * NSEC_PER_USEC;
}

/* Free TX slots as a producer sees them: the completion released the tail. */
static inline u32 vnet_tx_room(const struct vnet_tx_ring *r)
{
	return r->size - (READ_ONCE(r->head) - smp_load_acquire(&r->tail));
}

/* Frame classes by EtherType, as the counters and trace events split them. */
enum vnet_proto { VNET_PROTO_ARP, VNET_PROTO_IPV4, VNET_PROTO_IPV6, VNET_PROTO_OTHER, VNET_PROTO_NUM };

static inline enum vnet_proto vnet_proto_of(const void *frame)
{
	switch (((const struct ethhdr *)frame)->h_proto) {
	case htons(ETH_P_ARP):
		return VNET_PROTO_ARP;
	case htons(ETH_P_IP):
		return VNET_PROTO_IPV4;
	case htons(ETH_P_IPV6):
		return VNET_PROTO_IPV6;
	default:
		return VNET_PROTO_OTHER;
	}
}

/*
 * Count one frame by the EtherType of its Ethernet header (inside the writer's
 * syncp); returns its class, which TX keeps in the descriptor for the TX-done
 * event so that the completion never reads the frame again.
 */
static inline void vnet_count_class(struct vnet_proto_stats *p, enum vnet_proto class)
{
	u64_stats_t *by_class[VNET_PROTO_NUM] = { &p->arp, &p->ipv4, &p->ipv6, &p->other };

	u64_stats_inc(by_class[class]);
}

static inline enum vnet_proto vnet_count_proto(struct vnet_proto_stats *p, const void *frame)
{
	enum vnet_proto class = vnet_proto_of(frame);

	vnet_count_class(p, class);
	return class;
}

#include <linux/bpf.h>
#include <linux/if_vlan.h>
#include <linux/skbuff.h>

/*
 * RX buffers are whole pages (2^order of them) with room for XDP in front and
 * skb_shared_info behind.  XDP needs the frame in one order-0 page.
 */
#define VNET_RX_HEADROOM	XDP_PACKET_HEADROOM
#define VNET_RX_TAILROOM	SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
#define VNET_RX_MAX_FRAME(order) \
	((PAGE_SIZE << (order)) - VNET_RX_HEADROOM - VNET_RX_TAILROOM)
/* The link-layer header a buffer must hold beside the MTU: Ethernet and a VLAN tag. */
#define VNET_RX_HLEN		(ETH_HLEN + VLAN_HLEN)
#define VNET_XDP_MAX_MTU	(VNET_RX_MAX_FRAME(0) - VNET_RX_HLEN)

/* The XDP state of one NAPI poll: what must be flushed before it returns. */
struct vnet_xdp_poll {
	struct bpf_prog *prog;		/* NULL: no program, every frame goes up */
	struct xdp_frame *tx[VNET_XDP_TX_BULK];
	unsigned int n_tx;
	bool redirected;
};

extern const struct ethtool_ops vnet_ethtool_ops;

/* vnet_tx.c */
netdev_tx_t vnet_start_xmit(struct sk_buff *skb, struct net_device *dev);
int vnet_tx_xdp_frames(struct vnet_queue *q, struct xdp_frame **frames,
		       int n, bool redirected);
struct vnet_queue *vnet_xdp_tx_queue(struct vnet_priv *priv);
u64 vnet_tx_complete(struct vnet_queue *q, int budget);
int vnet_tx_poll(struct napi_struct *napi, int budget);
int vnet_tx_ring_alloc(struct vnet_tx_ring *r, u32 size);
void vnet_tx_ring_free(struct vnet_tx_ring *r);
void vnet_tx_timer_init(struct vnet_queue *q);
void vnet_tx_irq_arm(struct vnet_queue *q, u64 delay_ns);
void vnet_tx_irq_cancel(struct vnet_queue *q);
void vnet_tx_purge(struct vnet_queue *q);

/* vnet_rx.c */
int vnet_rx_ring_alloc(struct vnet_queue *q, struct vnet_rx_ring *r,
		       u32 size, unsigned int mtu);
void vnet_rx_ring_free(struct vnet_rx_ring *r);
int vnet_napi_poll(struct napi_struct *napi, int budget);
u32 vnet_rx_order(unsigned int mtu);
void vnet_rx_irq_init(struct vnet_queue *q);
void vnet_rx_irq_raise(struct vnet_queue *q);
void vnet_rx_irq_sync(struct vnet_queue *q);

/*
 * The per-frame hardware operations, called through INDIRECT_CALL_2() in the
 * TX paths: a direct call where retpolines would make an indirect one cost.
 */
INDIRECT_CALLABLE_DECLARE(void vnet_sim_tx_kick(struct vnet_queue *q, u64 delay_ns));
INDIRECT_CALLABLE_DECLARE(u64 vnet_sim_tx_pending(struct vnet_queue *q,
						  const struct vnet_tx_desc *d, u32 idx, u64 now));
INDIRECT_CALLABLE_DECLARE(void vnet_be_tx_kick(struct vnet_queue *q, u64 delay_ns));
INDIRECT_CALLABLE_DECLARE(u64 vnet_be_tx_pending(struct vnet_queue *q,
						 const struct vnet_tx_desc *d, u32 idx, u64 now));
#define vnet_hw_tx_kick(q, delay)						\
	INDIRECT_CALL_2((q)->priv->hw->tx_kick, vnet_sim_tx_kick,		\
			vnet_be_tx_kick, q, delay)
#define vnet_hw_tx_pending(hw, q, d, idx, now)					\
	INDIRECT_CALL_2((hw)->tx_pending, vnet_sim_tx_pending,			\
			vnet_be_tx_pending, q, d, idx, now)

/*
 * Ring the TX doorbell: tell the hardware that the descriptors up to the
 * ring's head are posted.  A real driver writes the head to a NIC register
 * here; ours keeps it where ethtool -d shows it, so that the frames xmit_more
 * batched are visible between the doorbell and the head.  TX queue lock held.
 */
static inline void vnet_tx_doorbell(struct vnet_queue *q, u64 delay_ns)
{
	/* Release: a reader that sees this doorbell sees the head it rang for. */
	smp_store_release(&q->tx.doorbell, q->tx.head);
	vnet_hw_tx_kick(q, delay_ns);
}

/* vnet_sim.c: the simulated hardware, its knobs (module defaults, per-device sysfs) */
extern const struct vnet_hw_ops vnet_sim_hw;
extern const struct attribute_group vnet_sysfs_group;
void vnet_sim_init(struct vnet_priv *priv);
bool vnet_gen_bounded(struct vnet_priv *priv);
u32 vnet_build_arp(struct net_device *dev, u8 *frame, const u8 *peer_mac,
		   __be32 peer_ip, __be32 target_ip);

/* vnet_flows.c: the UDP and TCP flows of the generator */
struct vnet_flow_addrs {		/* taken once per generator tick */
	u8 dst_mac[ETH_ALEN];		/* the device's own address */
	u8 src_mac[ETH_ALEN];		/* peer_mac */
	__be32 saddr, daddr;		/* peer_ip, the device's IPv4 address */
	struct in6_addr saddr6, daddr6;	/* link-local: the peer's, the device's */
};

void vnet_flow_addrs_get(struct vnet_priv *priv, struct vnet_flow_addrs *a, bool v6,
			 const u8 *peer_mac, __be32 peer_ip, __be32 target_ip);
u32 vnet_build_flow(struct vnet_priv *priv, u8 *frame, u32 max_len,
		    enum vnet_gen_proto proto, const struct vnet_flow_addrs *a, u32 n);
u32 vnet_flow_take(struct vnet_priv *priv);
/* Two IPv6 addresses and two ports: the longest input the NIC hashes. */
#define VNET_FLOW_RSS_INPUT_MAX	36
unsigned int vnet_flow_rss_input(const struct vnet_flow_addrs *a, bool v6,
				 u32 n, u8 *buf);

/* vnet_rss.c: RSS, the RX queue of each frame from the hash of its flow */
u32 vnet_toeplitz(const u8 *key, const u8 *data, unsigned int len);
void vnet_rss_init(struct vnet_priv *priv);
void vnet_rss_queues_changed(struct vnet_priv *priv, unsigned int nq);
unsigned int vnet_rss_steer(struct vnet_priv *priv, const u8 *input,
			    unsigned int len, unsigned int nq, u32 *hash);
u32 vnet_get_rxfh_key_size(struct net_device *dev);
u32 vnet_get_rxfh_indir_size(struct net_device *dev);
u32 vnet_get_rx_ring_count(struct net_device *dev);
#ifdef VNET_HAVE_RXFH_PARAM
int vnet_get_rxfh(struct net_device *dev, struct ethtool_rxfh_param *rxfh);
int vnet_set_rxfh(struct net_device *dev, struct ethtool_rxfh_param *rxfh,
		  struct netlink_ext_ack *extack);
#else
int vnet_get_rxfh(struct net_device *dev, u32 *indir, u8 *key, u8 *hfunc);
int vnet_set_rxfh(struct net_device *dev, const u32 *indir, const u8 *key,
		  const u8 hfunc);
#endif
#ifdef VNET_HAVE_RXFH_FIELDS_OP
int vnet_get_rxfh_fields(struct net_device *dev, struct ethtool_rxfh_fields *f);
#endif
int vnet_get_rxnfc(struct net_device *dev, struct ethtool_rxnfc *info,
		   u32 *rule_locs);

/* vnet_selftest.c: ethtool -t, and the simulated NIC's loopback for it */
struct ethtool_test;
int vnet_selftest_count(void);
void vnet_selftest_strings(u8 *data);
void vnet_self_test(struct net_device *dev, struct ethtool_test *etest, u64 *data);
void vnet_loopback_frame(struct vnet_queue *q, const struct sk_buff *skb);

/* vnet_main.c: the link partner (ip link set DEV carrier on|off) */
bool vnet_partner_down(struct vnet_priv *priv);

/* vnet_backend.c: the /dev/vnet backend */
extern const struct vnet_hw_ops vnet_backend_hw;
int vnet_backend_init(void);
void vnet_backend_exit(void);
void vnet_backend_detach(struct vnet_priv *priv);
bool vnet_backend_stalled(struct vnet_priv *priv);

/* vnet_fault.c: fault injection and in-flight accounting (debugfs) */
enum vnet_fault {
	VNET_FAULT_TX_RING,	/* the TX descriptor array */
	VNET_FAULT_RX_RING,	/* the RX slot array */
	VNET_FAULT_RX_POOL,	/* the RX page pool */
	VNET_FAULT_RX_PAGE,	/* a page while filling the RX ring */
	VNET_FAULT_RXQ,		/* the XDP RX queue info and its memory model */
	VNET_FAULT_RX_REFILL,	/* a page to refill a slot in NAPI */
	VNET_FAULT_RX_SHORT,	/* the generator writes a runt frame */
	VNET_FAULT_NUM
};

enum vnet_obj { VNET_OBJ_TX_RINGS, VNET_OBJ_RX_RINGS, VNET_OBJ_RX_PAGES,
		VNET_OBJ_POOLS, VNET_OBJ_RXQS, VNET_OBJ_NUM };

extern atomic_t vnet_fault_left[VNET_FAULT_NUM];
extern atomic_long_t vnet_objs[VNET_OBJ_NUM];
bool vnet_fault_hit(enum vnet_fault f);

/* Fails the next N calls at point F after `echo "F N" > .../vnet/fault`. */
static inline bool vnet_should_fail(enum vnet_fault f)
{
	return unlikely(atomic_read(&vnet_fault_left[f])) && vnet_fault_hit(f);
}

static inline void vnet_obj_add(enum vnet_obj o, long n)
{
	atomic_long_add(n, &vnet_objs[o]);
}

void vnet_fault_init(void);
void vnet_fault_exit(void);

/* vnet_xdp.c */
enum vnet_xdp_result { VNET_XDP_UP, VNET_XDP_CONSUMED, VNET_XDP_DROPPED };
enum vnet_xdp_result vnet_xdp_run(struct vnet_queue *q, struct vnet_xdp_poll *x,
				  struct vnet_rx_slot *s, u32 *headroom, u32 *len,
				  u32 *metasize);
void vnet_xdp_poll_flush(struct vnet_queue *q, struct vnet_xdp_poll *x);
int vnet_xdp_rxq_reg(struct vnet_queue *q, struct vnet_rx_ring *r);
void vnet_xdp_rxq_unreg(struct vnet_rx_ring *r);
struct page *vnet_rx_page_alloc(struct vnet_queue *q);
int vnet_ndo_bpf(struct net_device *dev, struct netdev_bpf *bpf);
int vnet_ndo_xdp_xmit(struct net_device *dev, int n, struct xdp_frame **frames,
		      u32 flags);

/* vnet_main.c */
bool vnet_is_vnet(const struct net_device *dev);
void vnet_hw_switch(struct vnet_priv *priv, const struct vnet_hw_ops *hw);
int vnet_reconfigure(struct net_device *dev, u32 tx_size, u32 rx_size, int mtu);
int vnet_set_num_queues(struct net_device *dev, unsigned int n);
void vnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s);

/* A queue pair's counters, as the device's statistics report them. */
struct vnet_queue_counts {
	u64 tx_packets, tx_bytes;	/* sent by the hardware */
	u64 tx_dropped;			/* at xmit, purged at a stop, let go unsent */
	u64 tx_stopped, tx_woken;	/* the stack's TX queue (netdev.yaml tx-stop, tx-wake) */
	u64 rx_packets, rx_bytes;	/* taken from the ring (if_link.h) */
	u64 rx_lost, rx_lost_bytes;	/* of those, never seen by the stack */
	u64 rx_dropped;			/* good but not delivered, and purged */
	u64 rx_length_errors, rx_alloc_failed;
	u64 rx_missed;			/* no room in the ring (rx_missed_errors) */
	u64 napi_polls;
};

void vnet_queue_read_counts(struct vnet_queue *q, struct vnet_queue_counts *c);
#endif /* VNET_H */
