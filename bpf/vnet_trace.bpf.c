// SPDX-License-Identifier: GPL-2.0
/*
 * vnet_trace.bpf.c - every probe of vnet-trace, compiled once by BCC.
 *
 * Built with -DIFINDEX=<n>: every probe first checks that the device is the
 * one being traced (an integer compare, never a name compare) and returns at
 * once otherwise.  Everything is aggregated here, in per-CPU maps, so nothing
 * per packet crosses to user space; the only per-event stream is the ARP
 * ring buffer, which `vnet-trace arp` asks for.
 *
 * Ring state is read through the driver's own header (kmod/vnet.h).
 *
 * Every probe hit on the transmit path costs the traced system, so each probe
 * makes as few helper calls as it can: the counters and the ring state are
 * one struct each (one lookup, then plain stores), and a ring's size, head
 * and tail come in one read.
 */
#define VNET_BPF
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/if_ether.h>
#include "vnet.h"

#define HIST_SLOTS	16	/* log2 buckets: 0, 1, 2-3, ..., 16384-32767 */
#define WORK_SLOTS	257	/* NAPI work 0..256, one bucket each */

/* Counters, one index each (mirrored in vnet_ebpf/probes/tracer.py). */
enum {
	C_XMIT, C_TX_ARP, C_TX_IPV4, C_TX_IPV6, C_TX_OTHER, C_TX_FILLS,
	C_POLLS, C_POLL_PACKETS, C_POLL_EXHAUSTED, C_POLL_OVER_BUDGET, C_POLL_NS,
	C_TXC_RUNS, C_TXC_FREED,
	C_ARP_EVENTS, C_ARP_LOST,
	C_NUM
};

struct counters {
	u64 c[C_NUM];
};
BPF_PERCPU_ARRAY(counters, struct counters, 1);
BPF_PERCPU_ARRAY(tx_occ_hist, u64, HIST_SLOTS);	/* TX ring occupancy at each xmit */
BPF_PERCPU_ARRAY(rx_occ_hist, u64, HIST_SLOTS);	/* RX ring occupancy at each poll start */
BPF_PERCPU_ARRAY(work_hist, u64, WORK_SLOTS);	/* packets per NAPI poll */
BPF_PERCPU_ARRAY(poll_ns_hist, u64, 64);	/* NAPI poll duration, log2 ns */
BPF_PERCPU_ARRAY(freed_hist, u64, HIST_SLOTS);	/* descriptors freed per completion run */

/* Ring state: [0] last TX occupancy, [1] max TX, [2] last RX, [3] max RX,
 * [4] TX ring size, [5] RX ring size, [6] time of the last TX sample,
 * [7] time of the last RX sample. Max entries are reset by user space. */
struct ring_state {
	u64 v[8];
};
BPF_PERCPU_ARRAY(ring_state, struct ring_state, 1);

/* size, head and tail, in this order in both rings of kmod/vnet.h: one read. */
struct ring_idx {
	u32 size, head, tail;
};
_Static_assert(offsetof(struct vnet_tx_ring, tail) == offsetof(struct vnet_tx_ring, size) + 8,
	       "vnet_tx_ring: size, head, tail must be adjacent");
_Static_assert(offsetof(struct vnet_rx_ring, tail) == offsetof(struct vnet_rx_ring, size) + 8,
	       "vnet_rx_ring: size, head, tail must be adjacent");

struct poll_start {
	u64 ts;
	u32 active;
	u32 budget;
};
BPF_PERCPU_ARRAY(poll_starts, struct poll_start, 1);

struct txc_start {
	struct vnet_priv *priv;
	u32 tail;
	u32 active;
};
BPF_PERCPU_ARRAY(txc_starts, struct txc_start, 1);

struct arp_event {
	u64 ts_ns;
	u32 ifindex;
	u32 peer_ip;		/* network byte order */
	u32 target_ip;		/* network byte order */
	u8 peer_mac[6];
	u8 pad[2];
};
BPF_RINGBUF_OUTPUT(arp_events, 64);

/* Explicit reads of driver memory: clear to read, and independent of BCC's rewriter. */
#define VREAD(dst, src) bpf_probe_read_kernel(&(dst), sizeof(dst), &(src))

static __always_inline int dev_ifindex(struct net_device *dev)
{
	int ifindex = 0;

	VREAD(ifindex, dev->ifindex);
	return ifindex;
}

static __always_inline int priv_ifindex(struct vnet_priv *priv)
{
	struct net_device *dev = NULL;

	VREAD(dev, priv->dev);
	return dev ? dev_ifindex(dev) : 0;
}

static __always_inline struct counters *my_counters(void)
{
	int zero = 0;

	return counters.lookup(&zero);
}

/*
 * Bucket of VALUE in a log2 histogram: 0 for 0, else 1 + floor(log2(value)).
 * Shifts, not __builtin_clzll: BPF has no count-leading-zeros instruction and
 * LLVM's BPF backend in BCC 0.26 crashes on it.
 */
static __always_inline int log2_slot(u64 v, int slots)
{
	int r, shift, slot;

	if (!v)
		return 0;
	r = (v > 0xFFFFFFFFULL) << 5; v >>= r;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	slot = r + 1;
	return slot < slots ? slot : slots - 1;
}

/* Record one occupancy sample of a ring; BASE 0 is TX, 2 is RX (see ring_state). */
static __always_inline void ring_sample(int base, u64 used, u64 size)
{
	int zero = 0;
	struct ring_state *rs = ring_state.lookup(&zero);

	if (!rs)
		return;
	if (base == 0) {
		rs->v[0] = used;
		if (used > rs->v[1])
			rs->v[1] = used;
		rs->v[4] = size;
		rs->v[6] = bpf_ktime_get_ns();
	} else {
		rs->v[2] = used;
		if (used > rs->v[3])
			rs->v[3] = used;
		rs->v[5] = size;
		rs->v[7] = bpf_ktime_get_ns();
	}
}

int on_xmit(struct pt_regs *ctx, struct sk_buff *skb, struct net_device *dev)
{
	struct vnet_priv *priv;
	struct ring_idx ring = {};
	struct counters *c;
	u64 used;
	int slot;
	__be16 proto = 0;
	unsigned char *data = NULL;

	if (dev_ifindex(dev) != IFINDEX)
		return 0;
	priv = netdev_priv(dev);
	bpf_probe_read_kernel(&ring, sizeof(ring), &priv->tx.size);
	/* Occupancy with this frame posted: size means this frame fills the ring. */
	used = (u32)(ring.head - ring.tail) + 1;
	slot = log2_slot(used, HIST_SLOTS);
	tx_occ_hist.increment(slot);
	ring_sample(0, used, ring.size);

	VREAD(data, skb->data);
	bpf_probe_read_kernel(&proto, sizeof(proto), data + 12);
	c = my_counters();
	if (!c)
		return 0;
	c->c[C_XMIT]++;
	if (used >= ring.size)
		c->c[C_TX_FILLS]++;
	if (proto == htons(ETH_P_ARP))
		c->c[C_TX_ARP]++;
	else if (proto == htons(ETH_P_IP))
		c->c[C_TX_IPV4]++;
	else if (proto == htons(ETH_P_IPV6))
		c->c[C_TX_IPV6]++;
	else
		c->c[C_TX_OTHER]++;
	return 0;
}

int on_poll(struct pt_regs *ctx, struct napi_struct *napi, int budget)
{
	struct vnet_priv *priv = (void *)napi - offsetof(struct vnet_priv, napi);
	struct poll_start *st;
	struct ring_idx ring = {};
	int zero = 0;
	u32 used;
	int slot;

	st = poll_starts.lookup(&zero);
	if (!st)
		return 0;
	st->active = 0;
	if (priv_ifindex(priv) != IFINDEX)
		return 0;
	bpf_probe_read_kernel(&ring, sizeof(ring), &priv->rx.size);
	used = ring.head - ring.tail;
	slot = log2_slot(used, HIST_SLOTS);
	rx_occ_hist.increment(slot);
	ring_sample(2, used, ring.size);
	st->budget = budget;
	st->ts = bpf_ktime_get_ns();
	st->active = 1;
	return 0;
}

int on_poll_return(struct pt_regs *ctx)
{
	struct poll_start *st;
	struct counters *c;
	int zero = 0, work = PT_REGS_RC(ctx), slot;
	u64 dur;

	st = poll_starts.lookup(&zero);
	if (!st || !st->active)
		return 0;
	st->active = 0;
	dur = bpf_ktime_get_ns() - st->ts;
	c = my_counters();
	if (!c)
		return 0;
	c->c[C_POLLS]++;
	c->c[C_POLL_NS] += dur;
	if (work > 0)
		c->c[C_POLL_PACKETS] += work;
	if (work >= (int)st->budget)
		c->c[C_POLL_EXHAUSTED]++;
	if (work > (int)st->budget)
		c->c[C_POLL_OVER_BUDGET]++;	/* a driver bug: never expected */
	if (work < 0)
		work = 0;
	if (work >= WORK_SLOTS)
		work = WORK_SLOTS - 1;
	work_hist.increment(work);
	slot = log2_slot(dur, 64);
	poll_ns_hist.increment(slot);
	return 0;
}

int on_tx_complete(struct pt_regs *ctx, struct vnet_priv *priv)
{
	struct txc_start *st;
	int zero = 0;

	st = txc_starts.lookup(&zero);
	if (!st)
		return 0;
	st->active = 0;
	if (priv_ifindex(priv) != IFINDEX)
		return 0;
	st->priv = priv;
	VREAD(st->tail, priv->tx.tail);
	st->active = 1;
	return 0;
}

int on_tx_complete_return(struct pt_regs *ctx)
{
	struct txc_start *st;
	struct vnet_priv *priv;
	struct counters *c;
	int zero = 0, slot;
	u32 tail = 0, freed;

	st = txc_starts.lookup(&zero);
	if (!st || !st->active)
		return 0;
	st->active = 0;
	priv = st->priv;
	VREAD(tail, priv->tx.tail);
	freed = tail - st->tail;
	if (!freed)
		return 0;	/* woke up early: nothing was due */
	c = my_counters();
	if (c) {
		c->c[C_TXC_RUNS]++;
		c->c[C_TXC_FREED] += freed;
	}
	slot = log2_slot(freed, HIST_SLOTS);
	freed_hist.increment(slot);
	return 0;
}

int on_build_arp(struct pt_regs *ctx, struct net_device *dev, u8 *frame,
		 const u8 *peer_mac, __be32 peer_ip, __be32 target_ip)
{
	struct arp_event ev = {};
	struct counters *c;

	if (dev_ifindex(dev) != IFINDEX)
		return 0;
	c = my_counters();
	if (!c)
		return 0;
	c->c[C_ARP_EVENTS]++;
	ev.ts_ns = bpf_ktime_get_ns();
	ev.ifindex = IFINDEX;
	ev.peer_ip = peer_ip;
	ev.target_ip = target_ip;
	bpf_probe_read_kernel(ev.peer_mac, sizeof(ev.peer_mac), peer_mac);
	/* BCC's ring buffer has no lost-event callback: count losses here. */
	if (arp_events.ringbuf_output(&ev, sizeof(ev), 0))
		c->c[C_ARP_LOST]++;
	return 0;
}
