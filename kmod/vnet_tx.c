// SPDX-License-Identifier: GPL-2.0
/*
 * TX path: the ring, deferred completion in NAPI, and BQL.
 *
 * vnet_start_xmit() posts the skb on the TX ring and reports its bytes to BQL.
 * The "hardware" finishes each frame tx_usecs (ethtool -C, as it was when the
 * frame was posted) after it was posted.  The doorbell arms the TX-done
 * interrupt, a soft hrtimer, unless the stack says more frames follow at once
 * (netdev_xmit_more).  The interrupt only schedules the TX NAPI, whose poll,
 * vnet_tx_poll(), runs vnet_tx_complete(): it frees finished descriptors,
 * reports them to BQL and wakes the queue, then re-arms the interrupt for the
 * frames still in flight, no sooner than tx-usecs later (moderation).  So
 * the ring really fills under load and the queue really stops, as on a NIC;
 * and netpoll (netconsole), which polls every NAPI of the device with IRQs
 * off and a budget of 0, can reclaim a full ring.
 *
 * XDP frames share the ring: XDP_TX from our own NAPI poll and ndo_xdp_xmit
 * (frames redirected to us) post them through vnet_tx_xdp_frames().  They
 * bypass the qdisc, so they are not reported to BQL, which accounts for what
 * the stack queued.
 *
 * Locking: every producer (xmit, XDP) runs under the TX queue lock with BHs
 * off; the completion runs in the TX NAPI poll, possibly on another CPU.
 * They share the ring without a lock: producers alone write head, completion
 * alone writes tail, and the stop / wake race is closed with the memory
 * barriers described at each site.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <net/dropreason.h>
#include <net/xdp.h>
#include "vnet.h"
#include "vnet_trace.h"

/*
 * Raise the TX-done interrupt within DELAY_NS.  A timer already due sooner
 * stays; the poll it schedules re-arms for the rest.  The hardware calls it:
 * the simulated one when a frame will be done, the backend when its reader
 * took frames (tx-usecs later: interrupt moderation).
 */
void vnet_tx_irq_arm(struct vnet_queue *q, u64 delay_ns)
{
	struct hrtimer *t = &q->tx_timer;
	unsigned long flags;

	/* Order the caller's ring update before the look at the timer state. */
	smp_mb();
	/* xmit and the TX poll both arm: a later deadline must not replace a sooner one. */
	spin_lock_irqsave(&q->tx_timer_lock, flags);
	if (!hrtimer_is_queued(t) ||
	    ktime_to_ns(hrtimer_get_remaining(t)) > (s64)delay_ns)
		hrtimer_start(t, ns_to_ktime(delay_ns), HRTIMER_MODE_REL_SOFT);
	spin_unlock_irqrestore(&q->tx_timer_lock, flags);
}

/* When a frame posted now is done: tx-usecs is read once per post (ethtool -C). */
static u64 vnet_tx_due(struct vnet_priv *priv, u64 now)
{
	return now + vnet_tx_moderation_ns(priv);
}

/*
 * After posting: stop the queue if the ring is full.  Called under the TX
 * queue lock, inside the tx_stats writer section.
 */
static void vnet_tx_maybe_stop(struct vnet_queue *q, struct netdev_queue *txq)
{
	/* LESSON 3 TODO: stop the queue when the ring is full; undo it if a completion just made room */
	struct vnet_tx_ring *r = &q->tx;

	if (vnet_tx_room(r))
		return;
	netif_tx_stop_queue(txq);
	u64_stats_inc(&q->tx_stats.queue_stopped);
	/*
	 * Pairs with the barrier in vnet_tx_complete(): either it sees the
	 * stopped queue, or we see the tail it advanced and undo the stop.
	 */
	smp_mb();
	if (vnet_tx_room(r) >= r->wake_thresh) {
		netif_tx_wake_queue(txq);
		u64_stats_inc(&q->tx_stats.queue_woken);
	}
	/* LESSON 3 END */
}

/*
 * The backend runs the device.  Stable while a transmit runs: the hardware is
 * switched only with the queue stopped under its lock (vnet_hw_switch()).
 */
static bool vnet_tx_to_backend(const struct vnet_priv *priv)
{
	return READ_ONCE(priv->hw) == &vnet_backend_hw;
}

/* Probe point (docs/probe-points.md): keep the name, arguments and noinline. */
noinline netdev_tx_t vnet_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);
	/* The stack chose the queue (XPS, or the flow's hash): one of the active ones. */
	struct vnet_queue *q = priv->queue[skb_get_queue_mapping(skb)];
	struct vnet_tx_ring *r = &q->tx;
	struct netdev_queue *txq = netdev_get_tx_queue(dev, q->index);
	struct vnet_tx_desc *d;
	u64 delay;
	bool kick;

	/*
	 * A runt is no Ethernet frame.  And the backend's reader may keep a
	 * frame for as long as it likes, so a frame for it must not pin user
	 * pages (zerocopy sends): those are copied, and a frame whose copy
	 * fails is dropped.  A queue that is not running has no ring: only a
	 * sender that bypasses the qdisc (AF_PACKET) can reach one, having
	 * picked it just before ethtool -L took it away (the queue lock we
	 * hold orders us after the stop).
	 */
	if (unlikely(!q->tx_enabled || skb->len < ETH_HLEN ||
		     (vnet_tx_to_backend(priv) &&
		      skb_orphan_frags_rx(skb, GFP_ATOMIC)))) {
		vnet_stats_update(&q->tx_stats, u64_stats_inc(&q->tx_stats.dropped));
		dev_kfree_skb_any(skb);
		/*
		 * The last frame of a batch rings the doorbell for the frames
		 * posted before it under xmit_more, even when it is dropped.
		 * Each of them is due within tx-usecs from now.
		 */
		if (!netdev_xmit_more() && READ_ONCE(r->doorbell) != r->head)
			vnet_tx_doorbell(q, vnet_tx_moderation_ns(priv));
		return NETDEV_TX_OK;
	}

	if (unlikely(!vnet_tx_room(r))) {
		/* Cannot happen: the queue is stopped before the ring fills. */
		netif_tx_stop_queue(txq);
		vnet_stats_update(&q->tx_stats, {
			u64_stats_inc(&q->tx_stats.busy);
			/* The completion counts its wake: keep stops and wakes paired. */
			u64_stats_inc(&q->tx_stats.queue_stopped);
		});
		net_warn_ratelimited("%s: xmit with a full TX ring\n", dev->name);
		return NETDEV_TX_BUSY;
	}

	/* The driver now owns the frame: one descriptor, one BQL report. */
	d = &r->desc[r->head & (r->size - 1)];
	d->skb = skb;
	d->xdpf = NULL;
	d->dropped = 0;
	d->posted_ns = ktime_get_ns();
	d->due_ns = vnet_tx_due(priv, d->posted_ns);
	delay = d->due_ns - d->posted_ns;	/* d is not ours after the publish */
	/* LESSON 4 TODO: tell BQL the bytes now in flight; kick unless more frames follow at once */
	/* BQL; false while the stack has more frames for us right now. */
	kick = __netdev_tx_sent_queue(txq, skb->len, netdev_xmit_more());
	/* LESSON 4 SKELETON: kick = !netdev_xmit_more(); */
	/* LESSON 4 END */
	skb_tx_timestamp(skb);
	/*
	 * A frame that waits for the backend's reader must not hold its
	 * socket, nor through it the socket's network namespace, nor a
	 * conntrack entry: a reader that stops would keep them all, and a
	 * netns could never be destroyed.  tun does the same.  The ring and
	 * BQL still push back on the stack; the socket's send buffer no
	 * longer does.  The simulated NIC sends every frame within tx-usecs,
	 * so its frames keep their socket, as on a real NIC.
	 */
	if (vnet_tx_to_backend(priv)) {
		skb_orphan(skb);
		nf_reset_ct(skb);
	}

	u64_stats_update_begin(&q->tx_stats.syncp);
	/* At xmit, data is the Ethernet header (also for AF_PACKET frames). */
	d->proto = vnet_count_proto(&q->tx_stats.proto, skb->data);
	/*
	 * Before the publish: from then on the completion may free the skb
	 * on another CPU, so nothing after it may touch the skb.
	 */
	trace_vnet_xmit(dev, dev->ifindex, ((struct ethhdr *)skb->data)->h_proto,
			vnet_tx_used(r) + 1, r->size, skb->len, d->posted_ns,
			q->index);

	/* Publish the descriptor before the completion can see the new head. */
	smp_store_release(&r->head, r->head + 1);
	vnet_tx_maybe_stop(q, txq);
	u64_stats_update_end(&q->tx_stats.syncp);

	/* Doorbell batching: the last frame of a batch, or a stopped queue, kicks. */
	if (kick || netif_xmit_stopped(txq))
		vnet_tx_doorbell(q, delay);
	return NETDEV_TX_OK;
}

/*
 * A capture (tcpdump) on the device sees what the stack transmits because the
 * core hands it every skb before ndo_start_xmit.  XDP frames never pass there:
 * copy them to the taps ourselves, only while a capture is open.
 */
static void vnet_tx_xdp_to_taps(struct net_device *dev, struct xdp_frame *xdpf)
{
	struct sk_buff *skb;

	if (!dev_nit_active(dev))
		return;
	skb = netdev_alloc_skb(dev, xdpf->len);
	if (!skb)
		return;
	skb_put_data(skb, xdpf->data, xdpf->len);
	skb_reset_mac_header(skb);
	skb_set_network_header(skb, ETH_HLEN);
	skb->protocol = eth_hdr(skb)->h_proto;
	dev_queue_xmit_nit(skb, dev);
	consume_skb(skb);
}

/*
 * Post up to N XDP frames on the TX ring, in order, and ring the doorbell (arm
 * the TX-done timer).  Returns how many were queued; the caller owns the rest.
 * A frame with fragments (multi-buffer XDP) ends the batch: the ring sends
 * one linear buffer per descriptor.
 * -ENXIO when the device is down.  REDIRECTED: they came through ndo_xdp_xmit
 * (counted in xdp_xmit), rather than XDP_TX from our own poll.
 * Context: softirq (a NAPI poll, ours or another device's).
 */
int vnet_tx_xdp_frames(struct vnet_queue *q, struct xdp_frame **frames,
		       int n, bool redirected)
{
	struct vnet_priv *priv = q->priv;
	struct net_device *dev = priv->dev;
	struct vnet_tx_ring *r = &q->tx;
	struct netdev_queue *txq = netdev_get_tx_queue(dev, q->index);
	u64 now = ktime_get_ns(), due = vnet_tx_due(priv, now);
	int i, j, room;

	__netif_tx_lock(txq, smp_processor_id());
	if (unlikely(!q->tx_enabled)) {
		if (redirected)
			vnet_stats_update(&q->tx_stats,
					  u64_stats_add(&q->tx_stats.xdp_xmit_errors, n));
		__netif_tx_unlock(txq);
		return -ENXIO;
	}
	room = vnet_tx_room(r);
	/*
	 * Fill the descriptors and copy the frames to the taps first, outside
	 * the stats writer section: that copy allocates, and a reader of the
	 * counters would spin (on 32-bit) for as long as a writer is inside.
	 */
	for (i = 0; i < n && i < room; i++) {
		struct vnet_tx_desc *d = &r->desc[(r->head + i) & (r->size - 1)];

		if (unlikely(xdp_frame_has_frags(frames[i])))
			break;
		d->skb = NULL;
		d->xdpf = frames[i];
		d->posted_ns = now;
		d->due_ns = due;
		d->dropped = 0;
		d->proto = vnet_proto_of(frames[i]->data);
		vnet_tx_xdp_to_taps(dev, frames[i]);
	}
	u64_stats_update_begin(&q->tx_stats.syncp);
	for (j = 0; j < i; j++)
		vnet_count_class(&q->tx_stats.proto,
				 r->desc[(r->head + j) & (r->size - 1)].proto);
	/* Publish the descriptors: from here the completion may free them. */
	smp_store_release(&r->head, r->head + i);
	if (redirected) {
		u64_stats_add(&q->tx_stats.xdp_xmit, i);
		u64_stats_add(&q->tx_stats.xdp_xmit_errors, n - i);
	}
	/*
	 * A queue the stack already stopped for a full ring stays stopped:
	 * one stop is counted, as one wake will be.  (The stack never calls
	 * xmit on a stopped queue, so only XDP needs the look.)
	 */
	if (i && !netif_tx_queue_stopped(txq))
		vnet_tx_maybe_stop(q, txq);
	u64_stats_update_end(&q->tx_stats.syncp);
	if (i) {
		/*
		 * The stack's watchdog looks at trans_start, which only the
		 * stack's own transmits refresh: XDP keeping the queue
		 * stopped must not look like a hung queue.
		 */
		txq_trans_cond_update(txq);
		/* Under the lock: vnet_stop() cannot have quiesced the hardware yet. */
		vnet_tx_doorbell(q, due - now);
	}
	__netif_tx_unlock(txq);
	return i;
}

/*
 * The TX queue for XDP frames sent from this CPU (XDP_TX, ndo_xdp_xmit): one
 * per CPU while there are as many queues as CPUs, else shared by several
 * CPUs, which the TX queue lock taken by vnet_tx_xdp_frames() serialises
 * (as mlx5 and virtio_net do when queues are fewer than CPUs).  The count
 * is read once: an ethtool -L under way has the queues' TX stopped, and a
 * queue that is not running refuses the frames.
 */
struct vnet_queue *vnet_xdp_tx_queue(struct vnet_priv *priv)
{
	return priv->queue[smp_processor_id() % READ_ONCE(priv->num_queues)];
}

/*
 * Free what one descriptor holds; return its length.  SKB_BYTES: BQL's share.
 * BUDGET: the NAPI budget of a completion (0 from netpoll), -1 for a purge
 * (process context).  WHY: SKB_NOT_DROPPED_YET when the hardware sent the
 * frame, so it is consumed; else the reason it is dropped, which drop monitor
 * (and perf's skb:kfree_skb) reports, where the context allows one.
 */
static unsigned int vnet_tx_desc_free(struct vnet_tx_desc *d, int budget,
				      enum skb_drop_reason why,
				      unsigned int *skb_bytes)
{
	bool sent = why == SKB_NOT_DROPPED_YET;
	unsigned int len;

	if (d->skb) {
		len = d->skb->len;
		*skb_bytes += len;
		if (sent && budget >= 0)
			napi_consume_skb(d->skb, budget);
		else if (sent)
			consume_skb(d->skb);
		else if (budget)
			kfree_skb_reason(d->skb, why);
		else
			dev_kfree_skb_any(d->skb);	/* netpoll: IRQs may be off */
	} else {
		len = d->xdpf->len;
		xdp_return_frame(d->xdpf);
	}
	d->skb = NULL;
	d->xdpf = NULL;
	return len;
}

/*
 * Reclaim: frees every descriptor whose frame the hardware has finished and
 * returns the nanoseconds until the next one is due (U64_MAX: none is due by
 * time: the ring is empty, or the next frame waits for the backend's reader).
 * Runs in the TX NAPI poll, or netpoll's (BUDGET 0, IRQs possibly off), which
 * may free skbs but must not touch XDP or page pool APIs: it stops at the
 * first XDP frame (the ring completes in order).  Probe point: keep the name,
 * arguments and noinline.
 */
noinline u64 vnet_tx_complete(struct vnet_queue *q, int budget)
{
	struct vnet_priv *priv = q->priv;
	struct vnet_tx_ring *r = &q->tx;
	struct net_device *dev = priv->dev;
	struct netdev_queue *txq = netdev_get_tx_queue(dev, q->index);
	u64 now = ktime_get_ns();
	unsigned int pkts = 0, sent = 0, bytes = 0, dropped = 0;
	unsigned int skb_pkts = 0, skb_bytes = 0;
	u32 head = smp_load_acquire(&r->head), tail = r->tail, t = tail;
	u32 proto[VNET_PROTO_NUM] = {};
	bool traced = trace_vnet_tx_complete_enabled();
	/* ethtool -t's loopback; never in netpoll (budget 0, IRQs maybe off). */
	bool loop = budget && unlikely(smp_load_acquire(&priv->loopback));
	const struct vnet_hw_ops *hw = priv->hw;
	u64 next = U64_MAX;
	bool woken = false;

	while (t != head) {
		struct vnet_tx_desc *d = &r->desc[t & (r->size - 1)];
		u64 pending = vnet_hw_tx_pending(hw, q, d, t, now);

		/* In order, as a NIC's ring: a frame never passes an older one. */
		if (pending) {
			next = pending;
			break;
		}
		if (unlikely(!budget && d->xdpf))
			break;	/* the next real poll takes it */
		if (traced)
			proto[d->proto]++;
		pkts++;
		skb_pkts += !!d->skb;
		if (unlikely(d->dropped)) {
			/* if_link.h: tx_dropped, and not a packet sent. */
			dropped++;
			vnet_tx_desc_free(d, budget, SKB_DROP_REASON_PKT_TOO_BIG, &skb_bytes);
		} else {
			sent++;
			/* ethtool -t: the frame comes back, as through a wire plugged into itself. */
			if (unlikely(loop) && d->skb)
				vnet_loopback_frame(q, d->skb);
			bytes += vnet_tx_desc_free(d, budget, SKB_NOT_DROPPED_YET, &skb_bytes);
		}
		t++;
	}
	if (pkts) {
		/* The slots are clear before xmit can see them free (vnet_tx_room()). */
		smp_store_release(&r->tail, t);
		/* LESSON 4 TODO: tell BQL how many frames and bytes completed */
		netdev_tx_completed_queue(txq, skb_pkts, skb_bytes);
		/* LESSON 4 END */
	}
	/*
	 * Make the new tail visible before testing the queue state (see
	 * xmit).  Also after a run that freed nothing: netpoll may have freed
	 * the frames without being able to wake the queue (below).
	 */
	smp_mb();
	if (unlikely(netif_tx_queue_stopped(txq)) &&
	    vnet_tx_room(r) >= r->wake_thresh) {
		/*
		 * The lock orders us against vnet_stop(), which must stay
		 * stopped.  netpoll (budget 0) may run while this CPU holds
		 * it (a printk from xmit to netconsole): only try then, and
		 * leave the wake to the next real poll.
		 */
		bool locked = true;

		if (budget)
			__netif_tx_lock(txq, smp_processor_id());
		else
			locked = __netif_tx_trylock(txq);
		if (locked) {
			if (q->tx_enabled && netif_tx_queue_stopped(txq)) {
				netif_tx_wake_queue(txq);
				woken = true;
			}
			__netif_tx_unlock(txq);
		}
	}

	if (!pkts && !woken)
		return next;
	vnet_stats_update(&q->txc_stats, {
		u64_stats_add(&q->txc_stats.packets, sent);
		u64_stats_add(&q->txc_stats.bytes, bytes);
		u64_stats_add(&q->txc_stats.hw_dropped, dropped);
		u64_stats_add(&q->txc_stats.completions, pkts);
		if (pkts)
			u64_stats_inc(&q->txc_stats.completion_runs);
		if (woken)
			u64_stats_inc(&q->txc_stats.queue_woken);
	});
	if (!pkts)
		return next;
	trace_vnet_tx_complete(dev, dev->ifindex, r->head_seen, head, tail, pkts,
			       r->size, proto[VNET_PROTO_ARP],
			       proto[VNET_PROTO_IPV4], proto[VNET_PROTO_IPV6],
			       proto[VNET_PROTO_OTHER], q->index);
	r->head_seen = head;
	return next;
}

/*
 * The TX NAPI poll.  TX work does not count against the budget (it returns 0,
 * as virtio_net's TX poll does); a budget of 0 is netpoll, which may only
 * reclaim: the NAPI is not ours to complete then.
 */
int vnet_tx_poll(struct napi_struct *napi, int budget)
{
	struct vnet_queue *q = container_of(napi, struct vnet_queue, tx_napi);
	u64 next = vnet_tx_complete(q, budget);

	if (!budget)
		return 0;
	/*
	 * Frames still in flight: the interrupt comes back when the oldest is
	 * due, but no sooner than tx-usecs from now.  That is interrupt
	 * moderation, as a NIC's tx-usecs (igb's ITR) does it: under load one
	 * interrupt and one poll free every frame finished meanwhile, instead
	 * of a run for every frame or two.  A frame may so wait up to tx-usecs
	 * more for its completion.
	 *
	 * Armed while the NAPI is still ours, before it completes, so that
	 * napi_disable() in vnet_quiesce() returns only after it is armed and
	 * its hrtimer_cancel() wins; an early interrupt just polls again
	 * (NAPI_STATE_MISSED).  A frame posted after our look armed it itself,
	 * for its own due time: tx-usecs after its post, so no sooner either.
	 */
	if (next != U64_MAX)
		vnet_tx_irq_arm(q, max(next, vnet_tx_moderation_ns(q->priv)));
	napi_complete_done(napi, 0);
	return 0;
}

/* The TX-done interrupt: hand the work to the TX NAPI. */
static enum hrtimer_restart vnet_tx_timer_fn(struct hrtimer *t)
{
	struct vnet_queue *q = container_of(t, struct vnet_queue, tx_timer);

	napi_schedule(&q->tx_napi);
	return HRTIMER_NORESTART;
}

void vnet_tx_timer_init(struct vnet_queue *q)
{
	spin_lock_init(&q->tx_timer_lock);
	vnet_hrtimer_setup(&q->tx_timer, vnet_tx_timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
}

int vnet_tx_ring_alloc(struct vnet_tx_ring *r, u32 size)
{
	memset(r, 0, sizeof(*r));
	if (vnet_should_fail(VNET_FAULT_TX_RING))
		return -ENOMEM;
	/* 4096 descriptors are 160 KiB: kv, not a high-order kmalloc. */
	/*
	 * Charged to the memory cgroup of whoever brings the device up or
	 * resizes it: any user can make a vnet device in a user namespace.
	 */
	r->desc = kvcalloc(size, sizeof(*r->desc), GFP_KERNEL_ACCOUNT);
	if (!r->desc)
		return -ENOMEM;
	r->size = size;
	r->wake_thresh = max_t(u32, r->size / 4, 1);
	vnet_obj_add(VNET_OBJ_TX_RINGS, 1);
	return 0;
}

/*
 * The TX side is quiet (queue stopped under its lock, NAPI disabled): cancel
 * the TX-done interrupt, the other half of vnet_tx_irq_arm().  After this
 * nothing else touches the ring.
 */
void vnet_tx_irq_cancel(struct vnet_queue *q)
{
	hrtimer_cancel(&q->tx_timer);
}

/*
 * With TX stopped: what the hardware had sent (the simulated NIC's frames
 * past their due time, the frames the backend's reader took) is completed
 * and counted as sent; what it never sent is dropped (tx_purged).  BQL
 * restarts.
 */
void vnet_tx_purge(struct vnet_queue *q)
{
	struct vnet_priv *priv = q->priv;
	struct vnet_tx_ring *r = &q->tx;
	unsigned int purged = 0, sent = 0, sent_bytes = 0, skb_bytes = 0;
	unsigned int dropped = 0;
	u64 now = ktime_get_ns();

	while (r->tail != r->head) {
		struct vnet_tx_desc *d = &r->desc[r->tail & (r->size - 1)];
		bool done = !vnet_hw_tx_pending(priv->hw, q, d, r->tail, now);
		bool was_sent = done && !d->dropped;
		/* Sent; or let go by the backend, too big; or purged at a stop. */
		enum skb_drop_reason why = was_sent ? SKB_NOT_DROPPED_YET :
					   done ? SKB_DROP_REASON_PKT_TOO_BIG :
					   SKB_DROP_REASON_DEV_READY;
		unsigned int len = vnet_tx_desc_free(d, -1, why, &skb_bytes);

		if (was_sent) {
			sent++;
			sent_bytes += len;
		} else if (done) {
			dropped++;	/* let go by the backend unsent */
		} else {
			purged++;
		}
		r->tail++;
	}
	r->head_seen = r->head;	/* these frames had no completion run */
	/* The next hardware starts at the empty ring's tail (a reader may look: ONCE). */
	WRITE_ONCE(r->sent, r->tail);
	WRITE_ONCE(r->doorbell, r->head);	/* nothing posted waits for a doorbell */
	netdev_tx_reset_queue(netdev_get_tx_queue(priv->dev, q->index));
	if (purged || sent || dropped) {
		vnet_stats_update(&q->txc_stats, {
			u64_stats_add(&q->txc_stats.packets, sent);
			u64_stats_add(&q->txc_stats.bytes, sent_bytes);
			u64_stats_add(&q->txc_stats.completions, sent + dropped);
			u64_stats_add(&q->txc_stats.hw_dropped, dropped);
			u64_stats_add(&q->txc_stats.purged, purged);
		});
		pr_debug("%s: %u frames sent, %u dropped still in TX ring %u\n",
			 priv->dev->name, sent, purged, q->index);
	}
}

void vnet_tx_ring_free(struct vnet_tx_ring *r)
{
	if (r->desc)
		vnet_obj_add(VNET_OBJ_TX_RINGS, -1);
	kvfree(r->desc);
	memset(r, 0, sizeof(*r));
}
