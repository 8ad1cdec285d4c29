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
 * Ring state is read through the driver's own ring header (kmod/vnet_rings.h):
 * the rings, as a NIC would expose them, not the driver's private state.
 *
 * Every probe hit on the transmit path costs the traced system, so the hot
 * probes make one helper call (the CPU number): each CPU has one slot of a
 * plain array holding all its counters, histograms and ring state, and a
 * plain array's lookup is inlined by the verifier (a per-CPU array's, on
 * 6.1, is a helper call).  Probes run with preemption off and never nest
 * on one CPU for these events, so a CPU's slot has a single writer.
 */
/*
 * The probes on the driver's functions (kprobe and fentry: -DDRIVER_PROBES)
 * read driver and kernel memory; the trace events hand over plain values.
 * Neither build includes <linux/netdevice.h>, which with all it pulls in is
 * most of what a compile costs (docs/benchmarks.md).  The few kernel fields
 * the probes read are at offsets given as -D flags, which the tracer reads
 * from the running kernel's BTF (vnet_ebpf/probes/btf.py):
 *   NETDEV_IFINDEX  struct net_device, ifindex
 *   NETDEV_PRIV     where netdev_priv(dev) points, from dev
 *   NAPI_DEV        struct napi_struct, dev
 *   NAPI_SIZE       sizeof(struct napi_struct): a queue's rings follow its RX NAPI
 *   SKB_DATA        struct sk_buff, data
 *   SKB_QUEUE_MAPPING struct sk_buff, queue_mapping: the TX queue of a frame
 */
#include <linux/types.h>
#ifdef DRIVER_PROBES
#include <uapi/linux/ptrace.h>
#include "vnet_rings.h"
struct napi_struct;
#endif
#include <uapi/linux/if_ether.h>

#define HIST_SLOTS	16	/* log2 buckets: 0, 1, 2-3, ..., 16384-32767 */
#define WORK_SLOTS	257	/* NAPI work 0..256, one bucket each */
#define NS_SLOTS	64	/* log2 buckets of nanoseconds */

/* Counters, one index each (mirrored in vnet_ebpf/model.py COUNTERS). */
enum {
	C_XMIT, C_TX_ARP, C_TX_IPV4, C_TX_IPV6, C_TX_OTHER, C_TX_FILLS,
	C_POLLS, C_POLL_PACKETS, C_POLL_EXHAUSTED, C_POLL_OVER_BUDGET, C_POLL_NS,
	C_TXC_RUNS, C_TXC_FREED,
	C_ARP_EVENTS, C_ARP_LOST,
	C_NUM
};

/*
 * The state of one ring as the probes last saw it.  MAX is the largest
 * occupancy of read generation GEN: user space bumps the generation after
 * each read (read_gen), and the first sample of a new generation restarts
 * MAX, so no one but the probes ever writes this struct.
 */
struct ring_seen {
	u64 now, max, size, ts_ns, gen;
};

/* The queue pairs a device may have: VNET_QUEUES_MAX (checked below where visible). */
#define QUEUES		8

/*
 * One queue pair as one CPU saw it: its transmits, its RX polls and the
 * packets they took, and its rings.  A queue's traffic may move between
 * CPUs, so user space adds the counts up and takes each ring's latest sample.
 */
struct queue_seen {
	u64 xmit, polls, packets;
	struct ring_seen tx, rx;
};

/* Everything one CPU adds up; NCPU (-DNCPU) slots, one per possible CPU. */
struct cpu_stats {
	u64 c[C_NUM];
	u64 tx_hist[HIST_SLOTS];	/* TX ring occupancy at each xmit */
	u64 rx_hist[HIST_SLOTS];	/* RX ring occupancy at each poll start */
	u64 freed_hist[HIST_SLOTS];	/* descriptors freed per completion run */
	u64 work_hist[WORK_SLOTS];	/* packets per NAPI poll */
	u64 poll_ns_hist[NS_SLOTS];	/* NAPI poll duration, log2 ns */
	struct ring_seen tx, rx;
	u64 budget;			/* the largest budget a poll was given */
	struct queue_seen q[QUEUES];	/* the same, queue pair by queue pair */
};
/*
 * Both arrays are mapped into the tracer's memory (BPF_F_MMAPABLE): a read
 * of every CPU's slot is a memory copy, with no syscall and no conversion,
 * which is most of what an interval costs the tracer process under
 * emulation.  A plain array keeps its inlined lookup when mappable.
 */
BPF_F_TABLE("array", int, struct cpu_stats, stats, NCPU, BPF_F_MMAPABLE);
BPF_F_TABLE("array", int, u64, read_gen, 1, BPF_F_MMAPABLE);

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

static __always_inline struct cpu_stats *my_stats(void)
{
	u32 cpu = bpf_get_smp_processor_id();

	return stats.lookup(&cpu);
}

/*
 * V if below N, else N - 1: an index into an array of N, checked where the
 * verifier sees it.  The empty asm hides V's history from the compiler, which
 * would otherwise compare an earlier copy of it (say, before a +1) and index
 * with a register the verifier knows no bound for.
 */
static __always_inline u64 bounded(u64 v, u64 n)
{
	asm volatile("" : "+r"(v));
	return v < n ? v : n - 1;
}

/*
 * Bucket of VALUE in a log2 histogram: 0 for 0, else 1 + floor(log2(value)).
 * Shifts, not __builtin_clzll: BPF has no count-leading-zeros instruction and
 * LLVM's BPF backend in BCC 0.26 crashes on it.
 */
static __always_inline u64 log2_slot(u64 v, u64 slots)
{
	u64 r, shift;

	if (!v)
		return 0;
	r = (v > 0xFFFFFFFFULL) << 5; v >>= r;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return bounded(r + 1, slots);
}

/* Add one sample of each value LO..HI (LO >= 1) to a log2 histogram of HIST_SLOTS. */
static __always_inline void hist_add_range(u64 *hist, u64 lo, u64 hi)
{
	int slot;

	/*
	 * Slot s holds 2^(s-1) .. 2^s - 1; the last one everything above too.
	 * Stop at the first slot above HI: a run's range is a few frames, so
	 * most runs touch two or three slots of the sixteen.
	 */
#pragma unroll
	for (slot = 1; slot < HIST_SLOTS; slot++) {
		u64 first = 1ULL << (slot - 1);
		u64 last = slot == HIST_SLOTS - 1 ? ~0ULL : (1ULL << slot) - 1;
		u64 from = lo > first ? lo : first, to = hi < last ? hi : last;

		if (first > hi)
			break;
		if (from <= to)
			hist[slot] += to - from + 1;
	}
}

/* One occupancy sample of a ring: USED of SIZE descriptors, at NOW ns. */
static __always_inline void ring_sample(struct ring_seen *r, u64 used, u64 size, u64 now)
{
	int zero = 0;
	u64 *gen = read_gen.lookup(&zero);

	if (gen && r->gen != *gen) {
		r->gen = *gen;
		r->max = 0;
	}
	r->now = used;
	if (used > r->max)
		r->max = used;
	r->size = size;
	r->ts_ns = now;
}

/* ---- what each event adds up to, whichever way it was caught -------------- */

/*
 * Queue pair QUEUE's part of C, or NULL for a number past the last (which
 * the driver never reports), rather than counting it as another queue's.
 */
static __always_inline struct queue_seen *queue_of(struct cpu_stats *c, u64 queue)
{
	if (queue >= QUEUES)
		return NULL;
	return &c->q[bounded(queue, QUEUES)];
}

/* One transmit on QUEUE at NOW ns; USED counts the frame just posted. */
static __always_inline void count_xmit(u32 used, u32 size, __be16 proto, u64 now, u32 queue)
{
	struct cpu_stats *c = my_stats();
	struct queue_seen *q;

	if (!c)
		return;
	c->tx_hist[log2_slot(used, HIST_SLOTS)]++;
	ring_sample(&c->tx, used, size, now);
	q = queue_of(c, queue);
	if (q) {
		q->xmit++;
		ring_sample(&q->tx, used, size, now);
	}
	c->c[C_XMIT]++;
	if (used >= size)
		c->c[C_TX_FILLS]++;
	if (proto == htons(ETH_P_ARP))
		c->c[C_TX_ARP]++;
	else if (proto == htons(ETH_P_IP))
		c->c[C_TX_IPV4]++;
	else if (proto == htons(ETH_P_IPV6))
		c->c[C_TX_IPV6]++;
	else
		c->c[C_TX_OTHER]++;
}

/* One NAPI poll of QUEUE that did WORK of BUDGET in DUR ns. */
static __always_inline void count_poll(struct cpu_stats *c, int work, int budget, u64 dur,
				       u32 queue)
{
	struct queue_seen *q = queue_of(c, queue);

	if (q) {
		q->polls++;
		if (work > 0)
			q->packets += work;
	}
	c->c[C_POLLS]++;
	c->c[C_POLL_NS] += dur;
	if (work > 0)
		c->c[C_POLL_PACKETS] += work;
	if (work >= budget)
		c->c[C_POLL_EXHAUSTED]++;
	if (work > budget)
		c->c[C_POLL_OVER_BUDGET]++;	/* a driver bug: never expected */
	c->work_hist[bounded(work > 0 ? work : 0, WORK_SLOTS)]++;
	c->poll_ns_hist[log2_slot(dur, NS_SLOTS)]++;
	if (budget > 0 && budget > c->budget)	/* netpoll's budget-0 polls aside */
		c->budget = budget;
}

/* QUEUE's RX ring at the start of a poll: USED of SIZE, at NOW ns. */
static __always_inline void rx_sample(struct cpu_stats *c, u32 used, u32 size, u64 now,
				      u32 queue)
{
	struct queue_seen *q = queue_of(c, queue);

	c->rx_hist[log2_slot(used, HIST_SLOTS)]++;
	ring_sample(&c->rx, used, size, now);
	if (q)
		ring_sample(&q->rx, used, size, now);
}

/* One TX-done run that freed FREED descriptors (runs that freed none are not counted). */
static __always_inline void count_txc(struct cpu_stats *c, u32 freed)
{
	if (!freed)
		return;
	c->c[C_TXC_RUNS]++;
	c->c[C_TXC_FREED] += freed;
	c->freed_hist[log2_slot(freed, HIST_SLOTS)]++;
}

/* One generated ARP request, to user space through the ring buffer. */
static __always_inline void emit_arp(const u8 *peer_mac, __be32 peer_ip, __be32 target_ip)
{
	struct arp_event ev = {};
	struct cpu_stats *c = my_stats();

	if (!c)
		return;
	c->c[C_ARP_EVENTS]++;
	ev.ts_ns = bpf_ktime_get_ns();
	ev.ifindex = IFINDEX;
	ev.peer_ip = peer_ip;
	ev.target_ip = target_ip;
	bpf_probe_read_kernel(ev.peer_mac, sizeof(ev.peer_mac), peer_mac);
	/* BCC's ring buffer has no lost-event callback: count losses here. */
	if (arp_events.ringbuf_output(&ev, sizeof(ev), 0))
		c->c[C_ARP_LOST]++;
}

/*
 * ---- raw tracepoints on the driver's trace events (kmod/vnet_trace.h) ------
 *
 * The default: each argument is a plain value in the context, so the filter
 * and the aggregation need no read of driver memory.  args[] follow the
 * TP_PROTO of each event; args[1] is always the ifindex.
 */

int tp_napi_poll(struct bpf_raw_tracepoint_args *ctx)
{
	u64 start = ctx->args[6];
	struct cpu_stats *c;

	/* 0: the poll began before we were attached; its duration is unknown. */
	if ((int)ctx->args[1] != IFINDEX || !start)
		return 0;
	c = my_stats();
	if (!c)
		return 0;
	rx_sample(c, ctx->args[4], ctx->args[5], start, ctx->args[7]);
	count_poll(c, (int)ctx->args[2], (int)ctx->args[3], bpf_ktime_get_ns() - start,
		   ctx->args[7]);
	return 0;
}

/*
 * One TX-done run: the frames posted since the previous run, with the ring's
 * occupancy at each of their transmits (kmod/vnet_trace.h says why that is
 * a range), then the run itself.  So the transmit path carries no probe.
 */
int tp_tx_complete(struct bpf_raw_tracepoint_args *ctx)
{
	u32 prev_head = ctx->args[2], head = ctx->args[3], tail = ctx->args[4];
	u32 size = ctx->args[6];
	struct cpu_stats *c;

	if ((int)ctx->args[1] != IFINDEX)
		return 0;
	c = my_stats();
	if (!c)
		return 0;
	if (head != prev_head) {
		u64 lo = prev_head - tail + 1, hi = head - tail, now = bpf_ktime_get_ns();
		struct queue_seen *q = queue_of(c, ctx->args[11]);

		hist_add_range(c->tx_hist, lo, hi);
		ring_sample(&c->tx, hi, size, now);
		if (q) {
			ring_sample(&q->tx, hi, size, now);
			q->xmit += hi - lo + 1;
		}
		c->c[C_XMIT] += hi - lo + 1;
		if (hi >= size)
			c->c[C_TX_FILLS]++;	/* only the last of them can fill it */
	}
	c->c[C_TX_ARP] += ctx->args[7];
	c->c[C_TX_IPV4] += ctx->args[8];
	c->c[C_TX_IPV6] += ctx->args[9];
	c->c[C_TX_OTHER] += ctx->args[10];
	count_txc(c, ctx->args[5]);
	return 0;
}

int tp_arp(struct bpf_raw_tracepoint_args *ctx)
{
	if ((int)ctx->args[1] != IFINDEX)
		return 0;
	emit_arp((const u8 *)ctx->args[2], ctx->args[3], ctx->args[4]);
	return 0;
}

#ifdef DRIVER_PROBES
/* size, head and tail, in this order in both rings of kmod/vnet_rings.h: one read. */
struct ring_idx {
	u32 size, head, tail;
};
_Static_assert(offsetof(struct vnet_tx_ring, tail) == offsetof(struct vnet_tx_ring, size) + 8,
	       "vnet_tx_ring: size, head, tail must be adjacent");
_Static_assert(offsetof(struct vnet_rx_ring, tail) == offsetof(struct vnet_rx_ring, size) + 8,
	       "vnet_rx_ring: size, head, tail must be adjacent");

_Static_assert(QUEUES == VNET_QUEUES_MAX, "QUEUES must be kmod's VNET_QUEUES_MAX");

struct poll_start {
	u64 ts;
	u32 active;
	u32 budget;
	u32 queue;
};
BPF_PERCPU_ARRAY(poll_starts, struct poll_start, 1);

struct txc_start {
	struct vnet_queue_view *q;
	u32 tail;
	u32 active;
};
BPF_PERCPU_ARRAY(txc_starts, struct txc_start, 1);

/* The kernel field at byte OFF of the struct at P (offsets from BTF, above). */
#define KREAD(dst, p, off) \
	bpf_probe_read_kernel(&(dst), sizeof(dst), (const char *)(p) + (off))

static __always_inline int dev_ifindex(struct net_device *dev)
{
	int ifindex = 0;

	KREAD(ifindex, dev, NETDEV_IFINDEX);
	return ifindex;
}

/* netdev_priv(): struct vnet_priv, which starts with the ring view. */
static __always_inline struct vnet_ring_view *ring_view(struct net_device *dev)
{
	return (struct vnet_ring_view *)((char *)dev + NETDEV_PRIV);
}

/* A queue pair (struct vnet_queue) starts with its RX NAPI; its rings follow. */
static __always_inline struct vnet_queue_view *queue_view(void *queue)
{
	return (struct vnet_queue_view *)((char *)queue + NAPI_SIZE);
}

/* The queue pair a frame is sent on: the one the stack chose for it; its number in *INDEX. */
static __always_inline struct vnet_queue_view *tx_queue_view(struct sk_buff *skb,
							     struct net_device *dev, u32 *index)
{
	struct vnet_ring_view *priv = ring_view(dev);
	void *queue = NULL;
	u16 qm = 0;

	KREAD(qm, skb, SKB_QUEUE_MAPPING);
	*index = qm & (VNET_QUEUES_MAX - 1);
	VREAD(queue, priv->queue[*index]);
	return queue ? queue_view(queue) : NULL;
}

static __always_inline int queue_ifindex(struct vnet_queue_view *q)
{
	struct net_device *dev = NULL;

	VREAD(dev, q->dev);
	return dev ? dev_ifindex(dev) : 0;
}

/*
 * ---- what a probe on a driver function sees, kprobe or fentry alike ----------
 *
 * These read what they need from driver memory through kmod/vnet_rings.h.
 */

/* vnet_start_xmit(skb, dev) is entered. */
static __always_inline void xmit_entered(struct sk_buff *skb, struct net_device *dev)
{
	struct vnet_queue_view *q;
	struct ring_idx ring = {};
	__be16 proto = 0;
	unsigned char *data = NULL;
	u32 queue = 0;

	if (dev_ifindex(dev) != IFINDEX)
		return;
	/* The stack's queue number is the pair's: no read of q->index on this hot path. */
	q = tx_queue_view(skb, dev, &queue);
	if (!q)
		return;
	bpf_probe_read_kernel(&ring, sizeof(ring), &q->tx.size);
	KREAD(data, skb, SKB_DATA);
	bpf_probe_read_kernel(&proto, sizeof(proto), data + 12);
	/* Occupancy with this frame posted: size means this frame fills the ring. */
	count_xmit((u32)(ring.head - ring.tail) + 1, ring.size, proto, bpf_ktime_get_ns(),
		   queue);
}

/* vnet_napi_poll(napi, budget) is entered: remember when, and sample the RX ring. */
static __always_inline void poll_entered(struct napi_struct *napi, int budget)
{
	struct vnet_queue_view *q;
	struct net_device *dev = NULL;
	struct poll_start *st;
	struct cpu_stats *c;
	struct ring_idx ring = {};
	int zero = 0;

	st = poll_starts.lookup(&zero);
	if (!st)
		return;
	st->active = 0;
	KREAD(dev, napi, NAPI_DEV);
	if (!dev || dev_ifindex(dev) != IFINDEX)
		return;
	c = my_stats();
	if (!c)
		return;
	/* The NAPI is its queue pair's first member. */
	q = queue_view(napi);
	bpf_probe_read_kernel(&ring, sizeof(ring), &q->rx.size);
	VREAD(st->queue, q->index);
	st->budget = budget;
	st->ts = bpf_ktime_get_ns();
	st->active = 1;
	rx_sample(c, ring.head - ring.tail, ring.size, st->ts, st->queue);
}

/* vnet_napi_poll returns WORK. */
static __always_inline void poll_returned(int work)
{
	struct poll_start *st;
	struct cpu_stats *c;
	int zero = 0;

	st = poll_starts.lookup(&zero);
	if (!st || !st->active)
		return;
	st->active = 0;
	c = my_stats();
	if (c)
		count_poll(c, work, st->budget, bpf_ktime_get_ns() - st->ts, st->queue);
}

/* vnet_tx_complete(queue, budget) is entered: remember the tail it starts from. */
static __always_inline void txc_entered(void *queue)
{
	struct vnet_queue_view *q = queue_view(queue);
	struct txc_start *st;
	int zero = 0;

	st = txc_starts.lookup(&zero);
	if (!st)
		return;
	st->active = 0;
	if (queue_ifindex(q) != IFINDEX)
		return;
	st->q = q;
	VREAD(st->tail, q->tx.tail);
	st->active = 1;
}

/* vnet_tx_complete returns: the tail moved by what it freed. */
static __always_inline void txc_returned(void)
{
	struct txc_start *st;
	struct vnet_queue_view *q;
	struct cpu_stats *c;
	int zero = 0;
	u32 tail = 0;

	st = txc_starts.lookup(&zero);
	if (!st || !st->active)
		return;
	st->active = 0;
	q = st->q;
	VREAD(tail, q->tx.tail);
	c = my_stats();
	if (c)
		count_txc(c, tail - st->tail);	/* 0: woke up early, nothing was due */
}

/* vnet_build_arp(dev, frame, peer_mac, peer_ip, target_ip) is entered. */
static __always_inline void arp_built(struct net_device *dev, const u8 *peer_mac,
				      __be32 peer_ip, __be32 target_ip)
{
	if (dev_ifindex(dev) != IFINDEX)
		return;
	emit_arp(peer_mac, peer_ip, target_ip);
}

/*
 * ---- kprobes on the driver's functions (docs/probe-points.md) ---------------
 *
 * `--probes kprobe`: for a driver built without trace events, and the way to
 * look at any function of the driver on any kernel.
 */

int on_xmit(struct pt_regs *ctx, struct sk_buff *skb, struct net_device *dev)
{
	xmit_entered(skb, dev);
	return 0;
}

int on_poll(struct pt_regs *ctx, struct napi_struct *napi, int budget)
{
	poll_entered(napi, budget);
	return 0;
}

int on_poll_return(struct pt_regs *ctx)
{
	poll_returned(PT_REGS_RC(ctx));
	return 0;
}

int on_tx_complete(struct pt_regs *ctx, void *queue)
{
	txc_entered(queue);
	return 0;
}

int on_tx_complete_return(struct pt_regs *ctx)
{
	txc_returned();
	return 0;
}

int on_build_arp(struct pt_regs *ctx, struct net_device *dev, u8 *frame,
		 const u8 *peer_mac, __be32 peer_ip, __be32 target_ip)
{
	arp_built(dev, peer_mac, peer_ip, target_ip);
	return 0;
}

/*
 * ---- fentry / fexit on the same functions (`--probes fentry`) ----------------
 *
 * BPF trampolines: the call jumps straight into the program, with no
 * breakpoint and no pt_regs, so each hit costs less than a kprobe.  They need
 * the module's BTF (vnet.ko built against headers that carry vmlinux BTF) and
 * BCC >= 0.28 (MODULE_KFUNC_PROBE).  BCC attaches every such program when it
 * loads this file, so only the groups asked for are compiled in (-DFENTRY_*).
 */
#ifdef FENTRY_XMIT
MODULE_KFUNC_PROBE(vnet, vnet_start_xmit, struct sk_buff *skb, struct net_device *dev)
{
	xmit_entered(skb, dev);
	return 0;
}
#endif

#ifdef FENTRY_POLL
MODULE_KFUNC_PROBE(vnet, vnet_napi_poll, struct napi_struct *napi, int budget)
{
	poll_entered(napi, budget);
	return 0;
}

MODULE_KRETFUNC_PROBE(vnet, vnet_napi_poll, struct napi_struct *napi, int budget, int ret)
{
	poll_returned(ret);
	return 0;
}
#endif

#ifdef FENTRY_TXC
MODULE_KFUNC_PROBE(vnet, vnet_tx_complete, void *queue, int budget)
{
	txc_entered(queue);
	return 0;
}

MODULE_KRETFUNC_PROBE(vnet, vnet_tx_complete, void *queue, int budget, u64 ret)
{
	txc_returned();
	return 0;
}
#endif

#ifdef FENTRY_ARP
MODULE_KFUNC_PROBE(vnet, vnet_build_arp, struct net_device *dev, u8 *frame,
		   const u8 *peer_mac, __be32 peer_ip, __be32 target_ip)
{
	arp_built(dev, peer_mac, peer_ip, target_ip);
	return 0;
}
#endif
#endif /* DRIVER_PROBES */
