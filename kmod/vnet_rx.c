// SPDX-License-Identifier: GPL-2.0
/*
 * RX path: a ring of page buffers, a generator that plays the NIC writing
 * frames into them, and the NAPI poll that turns them into skbs.
 *
 * The generator is a soft hrtimer.  Every tick it writes rx_burst ARP requests
 * from a peer (peer_mac, peer_ip: per-device knobs, vnet_gen.c) asking for the device's IPv4 address into
 * free RX buffers, then raises the "RX interrupt" (napi_schedule).  When the
 * ring is full the frame is not written and is counted (rx_ring_full), as a NIC
 * counts missed frames.  So on an idle system every poll sees rx_burst frames:
 * NAPI batching becomes visible.  Because the stack answers the requests, RX
 * also produces TX.
 *
 * The NAPI poll runs the XDP program, if one is attached (vnet_xdp.c), then
 * builds each skb around its page (napi_build_skb, with XDP_PACKET_HEADROOM in
 * front, as XDP needs) and hands it to GRO; the slot gets another page from
 * the ring's page pool, to which the skb's page returns when it is freed.
 * Buffers are sized for the MTU: one page up to 3506 bytes, more for jumbo.  The generator and the poll share the ring without a lock:
 * the generator alone writes head, the poll alone writes tail.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/inetdevice.h>
#include <linux/slab.h>
#include "vnet.h"
#include "vnet_trace.h"

/* With the generator off, look at its knobs this often. */
#define VNET_RX_IDLE_NS		(50 * NSEC_PER_MSEC)
/* What an injected runt frame (VNET_FAULT_RX_SHORT) is: shorter than a header. */
#define VNET_RX_RUNT_LEN	(ETH_HLEN - 4)

/* Asked for when the device has no IPv4 address of its own: 10.0.0.1. */
#define VNET_DEFAULT_TARGET_IP	htonl(0x0a000001)

/* ---- the generator ------------------------------------------------------- */

/*
 * Write one ARP request (who-has target_ip tell peer_ip) into FRAME, padded
 * with zeros to the Ethernet minimum, and return its length.
 *
 * Probe point (docs/probe-points.md): every argument a tracer needs to print
 * the frame is passed in, so a kprobe on entry sees it all.
 */
noinline u32 vnet_build_arp(struct net_device *dev, u8 *frame,
			    const u8 *peer_mac, __be32 peer_ip,
			    __be32 target_ip)
{
	struct ethhdr *eth = (struct ethhdr *)frame;
	struct arphdr *arp = (struct arphdr *)(eth + 1);
	u8 *p = (u8 *)(arp + 1);

	eth_broadcast_addr(eth->h_dest);
	ether_addr_copy(eth->h_source, peer_mac);
	eth->h_proto = htons(ETH_P_ARP);

	arp->ar_hrd = htons(ARPHRD_ETHER);
	arp->ar_pro = htons(ETH_P_IP);
	arp->ar_hln = ETH_ALEN;
	arp->ar_pln = 4;
	arp->ar_op = htons(ARPOP_REQUEST);

	ether_addr_copy(p, peer_mac);		/* sender hardware address */
	p += ETH_ALEN;
	memcpy(p, &peer_ip, 4);			/* sender protocol address */
	p += 4;
	eth_zero_addr(p);			/* target hardware address: unknown */
	p += ETH_ALEN;
	memcpy(p, &target_ip, 4);		/* target protocol address */
	p += 4;

	memset(p, 0, VNET_ARP_FRAME_LEN - (p - frame));
	return VNET_ARP_FRAME_LEN;
}

static __be32 vnet_target_ip(struct net_device *dev)
{
	struct in_device *in_dev;
	const struct in_ifaddr *ifa;
	__be32 ip = VNET_DEFAULT_TARGET_IP;

	rcu_read_lock();
	in_dev = __in_dev_get_rcu(dev);
	if (in_dev) {
		ifa = rcu_dereference(in_dev->ifa_list);
		if (ifa)
			ip = ifa->ifa_local;
	}
	rcu_read_unlock();
	return ip;
}

/* Produce up to BURST frames into the ring; return how many were written. */
static unsigned int vnet_rx_generate(struct vnet_priv *priv, unsigned int burst)
{
	struct vnet_rx_ring *r = &priv->rx;
	u8 peer_mac[ETH_ALEN] __aligned(2);
	__be32 peer_ip, target_ip = vnet_target_ip(priv->dev);
	unsigned int made = 0, missed = 0, arps = 0;
	/* Pairs with the release of tail in the poll: that slot's page is ours. */
	u32 tail = smp_load_acquire(&r->tail);

	vnet_gen_peer(priv, peer_mac, &peer_ip);
	while (made + missed < burst) {
		struct vnet_rx_slot *s;

		if (r->head + made - tail >= r->size) {
			missed++;
			continue;
		}
		s = &r->slot[(r->head + made) & (r->size - 1)];
		made++;
		/* A broken "NIC" (fault injection): a frame too short to be Ethernet. */
		if (vnet_should_fail(VNET_FAULT_RX_SHORT)) {
			s->len = VNET_RX_RUNT_LEN;
			continue;
		}
		s->len = vnet_build_arp(priv->dev,
					page_address(s->page) + VNET_RX_HEADROOM,
					peer_mac, peer_ip, target_ip);
		trace_vnet_arp_generated(priv->dev, priv->dev->ifindex,
					 peer_mac, peer_ip, target_ip);
		arps++;
	}
	/* The frames are written before the poll can see the new head. */
	smp_store_release(&r->head, r->head + made);

	u64_stats_update_begin(&priv->gen_stats.syncp);
	u64_stats_add(&priv->gen_stats.arp_generated, arps);
	u64_stats_add(&priv->gen_stats.ring_full, missed);
	u64_stats_update_end(&priv->gen_stats.syncp);
	return made;
}

static enum hrtimer_restart vnet_rx_timer_fn(struct hrtimer *t)
{
	struct vnet_priv *priv = container_of(t, struct vnet_priv, rx_timer);
	u32 rate = READ_ONCE(priv->gen.rate);
	u32 burst = READ_ONCE(priv->gen.burst);
	u64 period;

	if (!rate) {
		hrtimer_forward_now(t, ns_to_ktime(VNET_RX_IDLE_NS));
		return HRTIMER_RESTART;
	}
	if (vnet_rx_generate(priv, burst))
		napi_schedule(&priv->napi);	/* the RX interrupt */

	period = div_u64((u64)burst * NSEC_PER_SEC, rate);
	/* Overruns (a slow machine) skip ticks rather than bunching them up. */
	hrtimer_forward_now(t, ns_to_ktime(max_t(u64, period, 1000)));
	return HRTIMER_RESTART;
}

void vnet_rx_timer_init(struct vnet_priv *priv)
{
	vnet_hrtimer_setup(&priv->rx_timer, vnet_rx_timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
}

void vnet_rx_start(struct vnet_priv *priv)
{
	hrtimer_start(&priv->rx_timer, ns_to_ktime(NSEC_PER_MSEC),
		      HRTIMER_MODE_REL_SOFT);
}

void vnet_rx_stop(struct vnet_priv *priv)
{
	hrtimer_cancel(&priv->rx_timer);
}

/* ---- the ring ------------------------------------------------------------ */

/* Page order of an RX buffer that holds a frame of MTU bytes plus its header. */
u32 vnet_rx_order(unsigned int mtu)
{
	return get_order(VNET_RX_HEADROOM + ETH_HLEN + mtu + VNET_RX_TAILROOM);
}

/*
 * The ring's buffers come from a page pool bound to the device and its NAPI:
 * a page that an skb, an XDP_TX frame or a redirected frame took comes back to
 * the pool when it is freed, and the refill of its slot takes it from there
 * instead of from the page allocator (vnet_compat.h: how directly, by kernel).
 */
static struct page_pool *vnet_rx_pool_create(struct vnet_priv *priv, u32 order,
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
	vnet_pp_params_bind(&pp, priv->dev, &priv->napi);
	pool = page_pool_create(&pp);
	if (!IS_ERR(pool))
		vnet_obj_add(VNET_OBJ_POOLS, 1);
	return pool;
}

/* A page to refill a slot whose page left with a frame (NAPI context). */
struct page *vnet_rx_page_alloc(struct vnet_priv *priv)
{
	if (vnet_should_fail(VNET_FAULT_RX_REFILL))
		return NULL;
	return page_pool_dev_alloc_pages(priv->rx.pool);
}

/*
 * Build a whole RX ring of SIZE buffers for MTU into R: pool, slots, pages and
 * its XDP RX queue info.  Nothing of the running configuration is touched, so
 * a resize builds the new ring before it stops the old one (vnet_main.c).
 * Needs the NAPI enabled: the queue info records its id.  On failure R holds
 * what was built, for vnet_rx_ring_free() once the NAPI is disabled: a pool
 * bound to an enabled NAPI must not be destroyed.
 */
int vnet_rx_ring_alloc(struct vnet_priv *priv, struct vnet_rx_ring *r,
		       u32 size, unsigned int mtu)
{
	struct page_pool *pool;
	u32 i;

	memset(r, 0, sizeof(*r));
	r->order = vnet_rx_order(mtu);
	pool = vnet_rx_pool_create(priv, r->order, size);
	if (IS_ERR(pool))
		return PTR_ERR(pool);
	r->pool = pool;
	r->slot = vnet_should_fail(VNET_FAULT_RX_RING) ? NULL :
		  kvcalloc(size, sizeof(*r->slot), GFP_KERNEL);
	if (!r->slot)
		return -ENOMEM;
	r->size = size;
	vnet_obj_add(VNET_OBJ_RX_RINGS, 1);
	for (i = 0; i < r->size; i++) {
		if (!vnet_should_fail(VNET_FAULT_RX_PAGE))
			r->slot[i].page = page_pool_alloc_pages(pool, GFP_KERNEL);
		if (!r->slot[i].page)
			return -ENOMEM;
		vnet_obj_add(VNET_OBJ_RX_PAGES, 1);
	}
	return vnet_xdp_rxq_reg(priv, r);
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

/*
 * Run XDP on one RX slot, then turn what goes up into an skb for the stack.
 * Inside the rx_stats writer section.
 */
static void vnet_rx_one(struct vnet_priv *priv, struct vnet_rx_slot *s,
			struct vnet_xdp_poll *x)
{
	struct vnet_rx_stats *st = &priv->rx_stats;
	u32 order = priv->rx.order;
	u32 len = s->len, headroom = VNET_RX_HEADROOM, metasize = 0;
	struct page *fresh;
	struct sk_buff *skb;

	/* if_link.h: a frame with a bad length is an rx_length_error, not a packet. */
	if (unlikely(len < ETH_HLEN || len > VNET_RX_MAX_FRAME(order))) {
		u64_stats_inc(&st->length_errors);
		return;	/* the page stays in the slot */
	}
	/*
	 * Every frame the host takes from the ring counts as received, also when
	 * XDP then consumes it (if_link.h: rx_packets includes what the host
	 * drops, even in the driver; netdev.yaml: XDP is the stack's first
	 * layer).  Bytes as on TX: the whole frame, as it arrived.
	 */
	u64_stats_inc(&st->packets);
	u64_stats_add(&st->bytes, len);
	vnet_count_proto(&st->proto, page_address(s->page) + headroom);
	/* A program is only ever attached with the MTU at one page (order 0). */
	if (x->prog &&
	    vnet_xdp_run(priv, x, s, &headroom, &len, &metasize) != VNET_XDP_UP)
		return;
	/* The skb takes the page; the slot needs a new one first. */
	fresh = vnet_rx_page_alloc(priv);
	if (unlikely(!fresh)) {
		u64_stats_inc(&st->alloc_failed);
		u64_stats_inc(&st->dropped);
		return;
	}
	skb = napi_build_skb(page_address(s->page), PAGE_SIZE << order);
	if (unlikely(!skb)) {
		page_pool_recycle_direct(priv->rx.pool, fresh);
		u64_stats_inc(&st->alloc_failed);
		u64_stats_inc(&st->dropped);
		return;
	}
	s->page = fresh;
	/* Freeing the skb returns the page to the pool. */
	skb_mark_for_recycle(skb);
	skb_reserve(skb, headroom);
	skb_put(skb, len);
	if (metasize)
		skb_metadata_set(skb, metasize);

	skb->protocol = eth_type_trans(skb, priv->dev);
	napi_gro_receive(&priv->napi, skb);
}

/* Probe point (docs/probe-points.md): keep the name, arguments and noinline. */
noinline int vnet_napi_poll(struct napi_struct *napi, int budget)
{
	struct vnet_priv *priv = container_of(napi, struct vnet_priv, napi);
	struct vnet_rx_ring *r = &priv->rx;
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
	u64_stats_update_begin(&priv->rx_stats.syncp);
	while (work < budget && r->tail != head) {
		vnet_rx_one(priv, &r->slot[r->tail & (r->size - 1)], &x);
		/* Hand the slot back to the generator only once we are done with it. */
		smp_store_release(&r->tail, r->tail + 1);
		work++;
	}
	if (x.prog)
		vnet_xdp_poll_flush(priv, &x);
	u64_stats_inc(&priv->rx_stats.napi_polls);
	if (work == budget)
		u64_stats_inc(&priv->rx_stats.napi_budget_exhausted);
	u64_stats_update_end(&priv->rx_stats.syncp);
	rcu_read_unlock();

	/* A full budget means the core keeps polling us: NAPI state is not ours. */
	if (work < budget && napi_complete_done(napi, work)) {
		/*
		 * Close the window where the generator filled the ring after our
		 * last look but saw NAPI still scheduled: look once more.
		 */
		smp_mb();
		if (vnet_rx_used(r))
			napi_schedule(napi);
	}
	trace_vnet_napi_poll(priv->dev, priv->dev->ifindex, work, budget,
			     waiting, r->size, start_ns);
	return work;
}
