// SPDX-License-Identifier: GPL-2.0
/*
 * napi_poll.bpf.c - NAPI batching of any network device, from the kernel's
 * own napi:napi_poll tracepoint (net/core/dev.c, after each poll returns).
 * `vnet-trace napi -i DEV` uses it when DEV is not a vnet device.
 *
 * Built with -DIFINDEX=<n> -DNETNS_INO=<n> -DNCPU=<n>: a poll counts when its
 * napi_struct's device has that ifindex in the network namespace of that
 * inode (ifindexes are only unique within one namespace).
 *
 * The tracepoint carries the work and budget but not how long the poll took,
 * so there is no poll-time histogram here; vnet's own events have one.
 *
 * The layout of struct cpu_stats is the same idea as vnet_trace.bpf.c's:
 * one slot a CPU of a mappable plain array, read by user space as memory.
 */
/*
 * No kernel header but <linux/types.h>: the four kernel fields read here are
 * at offsets given as -D flags, which the tracer reads from the running
 * kernel's BTF (vnet_ebpf/probes/btf.py, napi.py's KERNEL_FIELDS):
 * napi->dev, dev->ifindex, dev->nd_net.net and net->ns.inum.
 */
#include <linux/types.h>

struct napi_struct;
struct net_device;
struct net;

/* The kernel field at byte OFF of the struct at P. */
#define KREAD(dst, p, off) \
	bpf_probe_read_kernel(&(dst), sizeof(dst), (const char *)(p) + (off))

#define WORK_SLOTS	257	/* NAPI work 0..256, one bucket each */

/* The poll counters of vnet_trace.bpf.c (vnet_ebpf/model.py COUNTERS) that apply here. */
enum {
	C_POLLS, C_POLL_PACKETS, C_POLL_EXHAUSTED, C_POLL_OVER_BUDGET,
	C_NUM
};

struct cpu_stats {
	u64 c[C_NUM];
	u64 work_hist[WORK_SLOTS];	/* packets per NAPI poll */
	u64 budget;			/* the largest budget a poll was given */
};

BPF_F_TABLE("array", int, struct cpu_stats, stats, NCPU, BPF_F_MMAPABLE);

/* V if below N, else N - 1, checked where the verifier sees it (see vnet_trace.bpf.c). */
static __always_inline u64 bounded(u64 v, u64 n)
{
	asm volatile("" : "+r"(v));
	return v < n ? v : n - 1;
}

TRACEPOINT_PROBE(napi, napi_poll)
{
	struct napi_struct *napi = (struct napi_struct *)args->napi;
	struct net_device *dev = NULL;
	struct net *net = NULL;
	int ifindex = 0, work = args->work, budget = args->budget;
	unsigned int ino = 0;
	u32 cpu = bpf_get_smp_processor_id();
	struct cpu_stats *c;

	KREAD(dev, napi, NAPI_DEV);
	if (!dev)
		return 0;
	KREAD(ifindex, dev, NETDEV_IFINDEX);
	if (ifindex != IFINDEX)
		return 0;
	KREAD(net, dev, NETDEV_NET);
	if (net)
		KREAD(ino, net, NET_INUM);
	if (ino != NETNS_INO)
		return 0;
	c = stats.lookup(&cpu);
	if (!c)
		return 0;
	c->c[C_POLLS]++;
	if (work > 0)
		c->c[C_POLL_PACKETS] += work;
	if (work >= budget)
		c->c[C_POLL_EXHAUSTED]++;
	if (work > budget)
		c->c[C_POLL_OVER_BUDGET]++;	/* a driver bug */
	c->work_hist[bounded(work > 0 ? work : 0, WORK_SLOTS)]++;
	if (budget > 0 && budget > c->budget)
		c->budget = budget;
	return 0;
}
