/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnet's trace events: the driver's own view of its rings, its NAPI polls and
 * its ARP generator, for perf, ftrace, bpftrace and vnet-trace.
 *
 * A kprobe on a driver function costs its caller the kprobe path on every
 * call (docs/benchmarks.md has what it measured); a tracepoint is a
 * patched-out branch until someone listens, and then one
 * indirect call.  So the hot paths report here, and vnet-trace attaches BPF
 * raw-tracepoint programs to these events by default.
 *
 * The prototypes carry the values a consumer filters and aggregates on
 * (ifindex, ring indexes, work) as arguments of their own: a raw-tracepoint
 * program reads its arguments straight from its context, without a helper
 * call to read driver memory.  The arguments are computed only while the
 * event is enabled.  Keep the argument order: bpf/vnet_trace.bpf.c reads them
 * by position (docs/probe-points.md).  QUEUE, the queue pair's number, comes
 * last in each ring event, so the arguments before it kept their places.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vnet

#if !defined(_VNET_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VNET_TRACE_H

#include <linux/netdevice.h>
#include <linux/tracepoint.h>
#include "vnet_compat.h"

/*
 * Each transmit, after the frame is posted: USED counts it.  POSTED_NS is the
 * descriptor's ktime_get_ns() timestamp, so a consumer needs no clock read.
 */
TRACE_EVENT(vnet_xmit,
	TP_PROTO(const struct net_device *dev, int ifindex, __be16 proto,
		 u32 used, u32 size, unsigned int len, u64 posted_ns,
		 unsigned int queue),
	TP_ARGS(dev, ifindex, proto, used, size, len, posted_ns, queue),
	TP_STRUCT__entry(
		__string(name, dev->name)
		__field(u32, queue)
		__field(u16, proto)
		__field(u32, used)
		__field(u32, size)
		__field(unsigned int, len)
	),
	TP_fast_assign(
		vnet_assign_str(name, dev->name);
		__entry->queue = queue;
		__entry->proto = ntohs(proto);
		__entry->used = used;
		__entry->size = size;
		__entry->len = len;
	),
	TP_printk("dev=%s queue=%u proto=0x%04x len=%u tx_ring=%u/%u",
		  __get_str(name), __entry->queue, __entry->proto, __entry->len,
		  __entry->used, __entry->size)
);

/*
 * Each TX-done run that freed descriptors, once they are freed.  Between two
 * runs only transmits move the ring (the tail moves in runs alone), so the
 * frames posted since the previous run, PREV_HEAD up to RUN_HEAD (the head
 * when this run began), all saw the ring with its tail at RUN_TAIL: their
 * occupancies were PREV_HEAD - RUN_TAIL + 1, ..., RUN_HEAD - RUN_TAIL.  One event per run thus tells
 * a consumer the occupancy at every transmit, without a probe per frame.
 * ARP..OTHER classify the FREED frames by EtherType; they are counted only
 * while the event is enabled.  Twelve arguments, dev included: the most a
 * BPF raw tracepoint takes, so a thirteenth would need some folded together.
 */
TRACE_EVENT(vnet_tx_complete,
	TP_PROTO(const struct net_device *dev, int ifindex, u32 prev_head,
		 u32 run_head, u32 run_tail, u32 freed, u32 size, u32 arp, u32 ipv4,
		 u32 ipv6, u32 other, unsigned int queue),
	TP_ARGS(dev, ifindex, prev_head, run_head, run_tail, freed, size, arp, ipv4,
		ipv6, other, queue),
	TP_STRUCT__entry(
		__string(name, dev->name)
		__field(u32, queue)
		__field(u32, posted)
		__field(u32, used)
		__field(u32, freed)
		__field(u32, size)
	),
	TP_fast_assign(
		vnet_assign_str(name, dev->name);
		__entry->queue = queue;
		__entry->posted = run_head - prev_head;
		__entry->used = run_head - run_tail;
		__entry->freed = freed;
		__entry->size = size;
	),
	TP_printk("dev=%s queue=%u posted=%u since the last run, tx_ring=%u/%u, freed=%u",
		  __get_str(name), __entry->queue, __entry->posted, __entry->used, __entry->size,
		  __entry->freed)
);

/*
 * Each NAPI poll, at its end.  RX_USED: frames waiting when it started;
 * START_NS: ktime_get_ns() when it started (taken only while enabled).
 */
TRACE_EVENT(vnet_napi_poll,
	TP_PROTO(const struct net_device *dev, int ifindex, int work,
		 int budget, u32 rx_used, u32 rx_size, u64 start_ns,
		 unsigned int queue),
	TP_ARGS(dev, ifindex, work, budget, rx_used, rx_size, start_ns, queue),
	TP_STRUCT__entry(
		__string(name, dev->name)
		__field(u32, queue)
		__field(int, work)
		__field(int, budget)
		__field(u32, rx_used)
		__field(u32, rx_size)
		__field(u64, start_ns)
	),
	TP_fast_assign(
		vnet_assign_str(name, dev->name);
		__entry->queue = queue;
		__entry->work = work;
		__entry->budget = budget;
		__entry->rx_used = rx_used;
		__entry->rx_size = rx_size;
		__entry->start_ns = start_ns;
	),
	TP_printk("dev=%s queue=%u work=%d budget=%d rx_ring=%u/%u",
		  __get_str(name), __entry->queue, __entry->work, __entry->budget, __entry->rx_used,
		  __entry->rx_size)
);

/* Each generated ARP request (who-has TARGET_IP tell PEER_IP), once written. */
TRACE_EVENT(vnet_arp_generated,
	TP_PROTO(const struct net_device *dev, int ifindex, const u8 *peer_mac,
		 __be32 peer_ip, __be32 target_ip),
	TP_ARGS(dev, ifindex, peer_mac, peer_ip, target_ip),
	TP_STRUCT__entry(
		__string(name, dev->name)
		__array(u8, peer_mac, ETH_ALEN)
		__field(__be32, peer_ip)
		__field(__be32, target_ip)
	),
	TP_fast_assign(
		vnet_assign_str(name, dev->name);
		memcpy(__entry->peer_mac, peer_mac, ETH_ALEN);
		__entry->peer_ip = peer_ip;
		__entry->target_ip = target_ip;
	),
	TP_printk("dev=%s who-has %pI4 tell %pI4 (%pM)", __get_str(name),
		  &__entry->target_ip, &__entry->peer_ip, __entry->peer_mac)
);

#endif /* _VNET_TRACE_H */

/* This part must be outside the header guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vnet_trace
#include <trace/define_trace.h>
