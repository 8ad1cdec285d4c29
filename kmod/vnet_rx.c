// SPDX-License-Identifier: GPL-2.0
/*
 * RX path: a ring of page buffers the hardware writes frames into, and the
 * NAPI poll that turns them into skbs.
 *
 * The hardware (vnet_sim.c's generator, or a process writing to
 * /dev/vnet, vnet_backend.c) fills the slot at head and raises the "RX
 * interrupt" (napi_schedule).  The NAPI poll runs the XDP program, if one is
 * attached (vnet_xdp.c), then builds each skb around its page (napi_build_skb,
 * with XDP_PACKET_HEADROOM in front, as XDP needs) and hands it to GRO; the
 * slot gets another page from the ring's page pool, to which the skb's page
 * returns when it is freed.  Buffers are sized for the MTU plus a VLAN tag:
 * one page up to an MTU of 3502 bytes, more for jumbo.  The hardware and the
 * poll share the ring without a lock: the hardware alone writes head, the
 * poll alone writes tail.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/slab.h>
#include "vnet.h"
#include "vnet_trace.h"

/* ---- the ring ------------------------------------------------------------ */

/*
 * Page order of an RX buffer that holds a frame of MTU bytes plus its header
 * and a VLAN tag (a VLAN device over vnet has vnet's MTU).
 */
u32 vnet_rx_order(unsigned int mtu)
{
	return get_order(VNET_RX_HEADROOM + VNET_RX_HLEN + mtu + VNET_RX_TAILROOM);
}

/*
 * The ring's buffers come from a page pool bound to the device and its NAPI:
 * a page that an skb, an XDP_TX frame or a redirected frame took comes back to
 * the pool when it is freed, and the refill of its slot takes it from there
 * instead of from the page allocator (vnet_compat.h: how directly, by kernel).
 */
static struct page_pool *vnet_rx_pool_create(struct vnet_queue *q, u32 order,
					     u32 size)
{
	struct page_pool_params pp = {
		.order = order,
		.pool_size = size,
		.nid = NUMA_NO_NODE,
	};
	struct page_pool *pool;

	if (vnet_should_fail(VNET_FAULT_RX_POOL))
		return ERR_PTR(-ENOMEM);
	/* LESSON 10 TODO: bind the pool to the device and its RX NAPI (vnet_pp_params_bind) */
	vnet_pp_params_bind(&pp, q->dev, &q->rx_napi);
	/* LESSON 10 END */
	pool = page_pool_create(&pp);
	if (!IS_ERR(pool))
		vnet_obj_add(VNET_OBJ_POOLS, 1);
	return pool;
}

/* A page to refill a slot whose page left with a frame (NAPI context). */
struct page *vnet_rx_page_alloc(struct vnet_queue *q)
{
	if (vnet_should_fail(VNET_FAULT_RX_REFILL))
		return NULL;
	return page_pool_dev_alloc_pages(q->rx.pool);
}

/*
 * Build a whole RX ring of SIZE buffers for MTU into R: pool, slots, pages and
 * its XDP RX queue info.  Nothing of the running configuration is touched, so
 * a resize builds the new ring before it stops the old one (vnet_main.c).
 * Needs the NAPI enabled: the queue info records its id.  On failure R holds
 * what was built, for vnet_rx_ring_free() once the NAPI is disabled: a pool
 * bound to an enabled NAPI must not be destroyed.
 */
int vnet_rx_ring_alloc(struct vnet_queue *q, struct vnet_rx_ring *r,
		       u32 size, unsigned int mtu)
{
	struct page_pool *pool;
	u32 i;

	memset(r, 0, sizeof(*r));
	r->order = vnet_rx_order(mtu);
	pool = vnet_rx_pool_create(q, r->order, size);
	if (IS_ERR(pool))
		return PTR_ERR(pool);
	r->pool = pool;
	/*
	 * The slots and their pages are charged to the memory cgroup of whoever
	 * brings the device up or resizes it: any user can make a vnet device
	 * in a user namespace.  (Refills in NAPI are not charged: softirq runs
	 * on behalf of nobody; they replace pages that left with frames.)
	 */
	r->slot = vnet_should_fail(VNET_FAULT_RX_RING) ? NULL :
		  kvcalloc(size, sizeof(*r->slot), GFP_KERNEL_ACCOUNT);
	if (!r->slot)
		return -ENOMEM;
	r->size = size;
	vnet_obj_add(VNET_OBJ_RX_RINGS, 1);
	for (i = 0; i < r->size; i++) {
		if (!vnet_should_fail(VNET_FAULT_RX_PAGE))
			r->slot[i].page = page_pool_alloc_pages(pool, GFP_KERNEL_ACCOUNT);
		if (!r->slot[i].page)
			return -ENOMEM;
		vnet_obj_add(VNET_OBJ_RX_PAGES, 1);
	}
	return vnet_xdp_rxq_reg(q, r);
}

/*
 * With the generator and NAPI stopped: frames never polled are simply
 * dropped.  Pages still out in skbs or XDP frames keep the pool alive until
 * they come back.  Also frees a ring that vnet_rx_ring_alloc() left half built.
 */
void vnet_rx_ring_free(struct vnet_rx_ring *r)
{
	u32 i;

	vnet_xdp_rxq_unreg(r);
	if (r->slot) {
		for (i = 0; i < r->size; i++) {
			if (!r->slot[i].page)
				continue;
			page_pool_put_full_page(r->pool, r->slot[i].page, false);
			vnet_obj_add(VNET_OBJ_RX_PAGES, -1);
		}
		kvfree(r->slot);
		vnet_obj_add(VNET_OBJ_RX_RINGS, -1);
	}
	if (r->pool) {
		page_pool_destroy(r->pool);
		vnet_obj_add(VNET_OBJ_POOLS, -1);
	}
	memset(r, 0, sizeof(*r));
}

/* ---- NAPI ---------------------------------------------------------------- */

/* Run XDP on one RX slot, then turn what goes up into an skb for the stack. */
static void vnet_rx_one(struct vnet_queue *q, struct vnet_rx_slot *s,
			struct vnet_xdp_poll *x)
{
	struct vnet_rx_stats *st = &q->rx_stats;
	u32 order = q->rx.order;
	u32 len = s->len, headroom = VNET_RX_HEADROOM, metasize = 0;
	const u32 taken = len;	/* XDP may change len; the counters keep this */
	struct page *fresh;
	struct sk_buff *skb;

	/* if_link.h: a frame with a bad length is an rx_length_error, not a packet. */
	if (unlikely(len < ETH_HLEN || len > VNET_RX_MAX_FRAME(order))) {
		vnet_stats_update(st, u64_stats_inc(&st->length_errors));
		return;	/* the page stays in the slot */
	}
	/*
	 * Every frame the host takes from the ring counts as received, also when
	 * XDP then consumes it (if_link.h: rx_packets includes what the host
	 * drops, even in the driver; netdev.yaml: XDP is the stack's first
	 * layer).  Bytes as on TX: the whole frame, as it arrived.
	 */
	vnet_stats_update(st, {
		u64_stats_inc(&st->packets);
		u64_stats_add(&st->bytes, taken);
		vnet_count_proto(&st->proto, page_address(s->page) + headroom);
	});
	/* A program is only ever attached with the MTU at one page (order 0). */
	if (x->prog &&
	    vnet_xdp_run(q, x, s, &headroom, &len, &metasize) != VNET_XDP_UP)
		return;
	/* The skb takes the page; the slot needs a new one first. */
	fresh = vnet_rx_page_alloc(q);
	if (unlikely(!fresh))
		goto lost;
	skb = napi_build_skb(page_address(s->page), PAGE_SIZE << order);
	if (unlikely(!skb)) {
		page_pool_recycle_direct(q->rx.pool, fresh);
		goto lost;
	}
	s->page = fresh;
	/* Freeing the skb returns the page to the pool. */
	skb_mark_for_recycle(skb);
	skb_reserve(skb, headroom);
	skb_put(skb, len);
	if (metasize)
		skb_metadata_set(skb, metasize);

	skb->protocol = eth_type_trans(skb, q->dev);
	/* The NIC's RSS hash, unless ethtool -K DEV rxhash off. */
	if (s->hash_type != PKT_HASH_TYPE_NONE && (q->dev->features & NETIF_F_RXHASH))
		skb_set_hash(skb, s->hash, s->hash_type);
	/* The stack's RX queue number: RPS, XDP and sockets see which queue it came on. */
	skb_record_rx_queue(skb, q->index);
	napi_gro_receive(&q->rx_napi, skb);
	return;

lost:
	/* The page stays in the slot; the stack never saw this frame. */
	vnet_stats_update(st, {
		u64_stats_inc(&st->alloc_failed);
		u64_stats_inc(&st->dropped);
		u64_stats_inc(&st->lost);
		/* As counted in bytes: qstats rx-bytes is their difference. */
		u64_stats_add(&st->lost_bytes, taken);
	});
}

/* Probe point (docs/probe-points.md): keep the name, arguments and noinline. */
noinline int vnet_napi_poll(struct napi_struct *napi, int budget)
{
	struct vnet_queue *q = container_of(napi, struct vnet_queue, rx_napi);
	struct vnet_priv *priv = q->priv;
	struct vnet_rx_ring *r = &q->rx;
	u32 head = smp_load_acquire(&r->head);
	u32 waiting = head - r->tail;
	u64 start_ns = trace_vnet_napi_poll_enabled() ? ktime_get_ns() : 0;
	struct vnet_xdp_poll x = {};
	int work = 0;

	/* netpoll's TX-only call: RX, XDP and page pools are off limits. */
	if (unlikely(!budget))
		return 0;

	/*
	 * BHs are off in NAPI, which already holds off an RCU grace period; the
	 * explicit read lock documents it (and satisfies lockdep).  The program
	 * is read once: one poll runs one program on all its frames.
	 */
	rcu_read_lock();
	x.prog = rcu_dereference(priv->xdp_prog);
	while (r->tail != head) {
		/* LESSON 6 TODO: stop at the budget: the core polls again while we use all of it */
		if (work == budget)
			break;
		/* LESSON 6 END */
		vnet_rx_one(q, &r->slot[r->tail & (r->size - 1)], &x);
		/* Hand the slot back to the hardware only once we are done with it. */
		smp_store_release(&r->tail, r->tail + 1);
		work++;
	}
	if (work)
		priv->hw->rx_room(q);
	if (x.prog)
		vnet_xdp_poll_flush(q, &x);
	vnet_stats_update(&q->rx_stats, {
		u64_stats_inc(&q->rx_stats.napi_polls);
		if (work == budget)
			u64_stats_inc(&q->rx_stats.napi_budget_exhausted);
	});
	rcu_read_unlock();

	/* A full budget means the core keeps polling us: NAPI state is not ours. */
	if (work < budget && napi_complete_done(napi, work)) {
		/*
		 * Close the window where the hardware filled the ring after our
		 * last look but saw NAPI still scheduled: look once more.
		 */
		smp_mb();
		if (vnet_rx_used(r))
			napi_schedule(napi);
	}
	trace_vnet_napi_poll(priv->dev, priv->dev->ifindex, work, budget,
			     waiting, r->size, start_ns, q->index);
	return work;
}

/* ---- the RX interrupt ----------------------------------------------------- */

/*
 * The "MSI-X vector" fired on its CPU: an IPI's handler, hardirq context, as
 * a NIC's interrupt would be.  The kernel lets go of the call's data before
 * it calls us, so a new raise may queue it again at once; irq_pending is
 * cleared last, after the NAPI is scheduled (vnet_rx_irq_sync() waits for it).
 */
static void vnet_rx_irq_fn(void *info)
{
	struct vnet_queue *q = info;

	napi_schedule(&q->rx_napi);
	clear_bit_unlock(0, &q->irq_pending);
}

/*
 * Queue pair I takes its interrupts on the I-th CPU online, wrapping, as
 * a driver spreads its vectors (virtio_net's virtnet_set_affinity()), and
 * the stack sends from that CPU on queue I (XPS), so that a flow stays on
 * one CPU both ways.
 */
void vnet_rx_irq_init(struct vnet_queue *q)
{
	INIT_CSD(&q->rx_irq, vnet_rx_irq_fn, q);
	q->irq_cpu = cpumask_local_spread(q->index, NUMA_NO_NODE);
}

/*
 * Raise Q's RX interrupt: schedule its NAPI on the queue's CPU.  From that
 * CPU, at once; from another, through an IPI to it, as an interrupt arrives
 * on the CPU it is steered to, wherever the device is.  One raised and not
 * yet handled covers this one too: its NAPI poll looks at the ring after it
 * runs.  A CPU that is offline takes no interrupts: then here, on whichever
 * CPU runs.  The callers run with BHs off (a softirq timer, or a
 * spinlock_bh), so the CPU cannot change under us.
 */
void vnet_rx_irq_raise(struct vnet_queue *q)
{
	int cpu = READ_ONCE(q->irq_cpu);

	/*
	 * A device any user may make (vnet_gen_bounded()) interrupts no CPU
	 * but the one it runs on: its user may not have been allowed the
	 * others (isolated CPUs, cpusets).
	 */
	if (cpu == smp_processor_id() || !cpu_online(cpu) ||
	    vnet_gen_bounded(q->priv)) {
		napi_schedule(&q->rx_napi);
		return;
	}
	/*
	 * The frames published before the look at the bit: a handler that
	 * cleared it polls after, or we see it clear and send another.
	 */
	smp_mb();
	if (test_and_set_bit_lock(0, &q->irq_pending))
		return;
	/* Not sent (the CPU went offline meanwhile): handle it here. */
	if (smp_call_function_single_async(cpu, &q->rx_irq)) {
		napi_schedule(&q->rx_napi);
		clear_bit_unlock(0, &q->irq_pending);
	}
}

/*
 * With the hardware stopped: wait for an interrupt still on its way, which
 * takes the time of an IPI.  After this nothing of it touches the queue.
 */
void vnet_rx_irq_sync(struct vnet_queue *q)
{
	while (test_bit(0, &q->irq_pending))
		cpu_relax();
}
