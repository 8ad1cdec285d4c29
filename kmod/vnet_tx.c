// SPDX-License-Identifier: GPL-2.0
/*
 * TX path: the ring, deferred completion and BQL.
 *
 * vnet_start_xmit() posts the skb on the TX ring and reports its bytes to BQL.
 * The "hardware" finishes each frame tx_usecs (ethtool -C) after it was posted;
 * the TX-done interrupt is a soft hrtimer whose callback, vnet_tx_complete(),
 * frees finished descriptors, reports them to BQL and wakes the queue.  So the
 * ring really fills under load and the queue really stops, as on a NIC.
 *
 * Locking: xmit runs under the TX queue lock with BHs off; the completion runs
 * in the hrtimer softirq, possibly on another CPU.  They share the ring without
 * a lock: xmit alone writes head, completion alone writes tail, and the stop /
 * wake race is closed with the memory barriers described at each site.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/slab.h>
#include "vnet.h"

static void vnet_tx_timer_arm(struct vnet_priv *priv, u64 delay_ns)
{
	/* Order the caller's ring update before the look at the timer state. */
	smp_mb();
	if (!hrtimer_is_queued(&priv->tx_timer))
		hrtimer_start(&priv->tx_timer, ns_to_ktime(delay_ns),
			      HRTIMER_MODE_REL_SOFT);
}

/* Probe point (docs/probe-points.md): keep the name, arguments and noinline. */
noinline netdev_tx_t vnet_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct vnet_tx_ring *r = &priv->tx;
	struct netdev_queue *txq = netdev_get_tx_queue(dev, 0);
	struct vnet_tx_desc *d;
	bool woken = false;

	if (unlikely(skb->len < ETH_HLEN)) {
		u64_stats_update_begin(&priv->tx_stats.syncp);
		u64_stats_inc(&priv->tx_stats.dropped);
		u64_stats_update_end(&priv->tx_stats.syncp);
		dev_kfree_skb_any(skb);
		return NETDEV_TX_OK;
	}

	if (unlikely(vnet_tx_used(r) >= r->size)) {
		/* Cannot happen: the queue is stopped before the ring fills. */
		netif_tx_stop_queue(txq);
		u64_stats_update_begin(&priv->tx_stats.syncp);
		u64_stats_inc(&priv->tx_stats.busy);
		u64_stats_update_end(&priv->tx_stats.syncp);
		net_warn_ratelimited("%s: xmit with a full TX ring\n", dev->name);
		return NETDEV_TX_BUSY;
	}

	/* The driver now owns the frame: one descriptor, one BQL report. */
	d = &r->desc[r->head & (r->size - 1)];
	d->skb = skb;
	d->posted_ns = ktime_get_ns();
	netdev_tx_sent_queue(txq, skb->len);
	skb_tx_timestamp(skb);

	u64_stats_update_begin(&priv->tx_stats.syncp);
	/* At xmit, data is the Ethernet header (also for AF_PACKET frames). */
	vnet_count_proto(&priv->tx_stats.proto, skb->data);

	/* Publish the descriptor before the completion can see the new head. */
	smp_store_release(&r->head, r->head + 1);

	if (vnet_tx_used(r) >= r->size) {
		netif_tx_stop_queue(txq);
		u64_stats_inc(&priv->tx_stats.queue_stopped);
		/*
		 * Pairs with the barrier in vnet_tx_complete(): either it sees the
		 * stopped queue, or we see the tail it advanced and undo the stop.
		 */
		smp_mb();
		if (r->size - vnet_tx_used(r) >= r->wake_thresh) {
			netif_tx_wake_queue(txq);
			woken = true;
		}
	}
	if (woken)
		u64_stats_inc(&priv->tx_stats.queue_woken);
	u64_stats_update_end(&priv->tx_stats.syncp);

	pr_debug("%s: xmit len %u, ring %u/%u\n", dev->name, skb->len,
		 vnet_tx_used(r), r->size);
	vnet_tx_timer_arm(priv, (u64)priv->tx_usecs * NSEC_PER_USEC);
	return NETDEV_TX_OK;
}

/*
 * The TX-done interrupt handler.  Frees every descriptor whose frame the
 * "hardware" has finished and returns the nanoseconds until the next one is due
 * (0: the ring is empty).  Probe point: keep the name and noinline.
 */
noinline u64 vnet_tx_complete(struct vnet_priv *priv)
{
	struct vnet_tx_ring *r = &priv->tx;
	struct net_device *dev = priv->dev;
	struct netdev_queue *txq = netdev_get_tx_queue(dev, 0);
	u64 delay = (u64)READ_ONCE(priv->tx_usecs) * NSEC_PER_USEC;
	u64 now = ktime_get_ns();
	unsigned int pkts = 0, bytes = 0;
	u32 head = smp_load_acquire(&r->head);
	u64 next = 0;
	bool woken = false;

	while (r->tail != head) {
		struct vnet_tx_desc *d = &r->desc[r->tail & (r->size - 1)];

		if (d->posted_ns + delay > now) {
			next = d->posted_ns + delay - now;
			break;
		}
		pkts++;
		bytes += d->skb->len;
		dev_consume_skb_any(d->skb);
		d->skb = NULL;
		r->tail++;
	}
	if (!pkts)
		return next;

	netdev_tx_completed_queue(txq, pkts, bytes);
	/* Make the new tail visible before testing the queue state (see xmit). */
	smp_mb();
	if (unlikely(netif_tx_queue_stopped(txq)) &&
	    r->size - vnet_tx_used(r) >= r->wake_thresh) {
		/* The lock orders us against vnet_stop(), which must stay stopped. */
		__netif_tx_lock(txq, smp_processor_id());
		if (priv->tx_enabled && netif_tx_queue_stopped(txq)) {
			netif_tx_wake_queue(txq);
			woken = true;
		}
		__netif_tx_unlock(txq);
	}

	u64_stats_update_begin(&priv->txc_stats.syncp);
	u64_stats_add(&priv->txc_stats.packets, pkts);
	u64_stats_add(&priv->txc_stats.bytes, bytes);
	u64_stats_add(&priv->txc_stats.completions, pkts);
	u64_stats_inc(&priv->txc_stats.completion_runs);
	if (woken)
		u64_stats_inc(&priv->txc_stats.queue_woken);
	u64_stats_update_end(&priv->txc_stats.syncp);
	return next;
}

static enum hrtimer_restart vnet_tx_timer_fn(struct hrtimer *t)
{
	struct vnet_priv *priv = container_of(t, struct vnet_priv, tx_timer);
	u64 next = vnet_tx_complete(priv);

	/* Frames still in flight: come back when the oldest one is due. */
	if (next || vnet_tx_used(&priv->tx))
		vnet_tx_timer_arm(priv, next);
	return HRTIMER_NORESTART;
}

void vnet_tx_timer_init(struct vnet_priv *priv)
{
	hrtimer_init(&priv->tx_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	priv->tx_timer.function = vnet_tx_timer_fn;
}

int vnet_tx_ring_alloc(struct vnet_priv *priv)
{
	struct vnet_tx_ring *r = &priv->tx;

	r->desc = kcalloc(priv->tx_ring_size, sizeof(*r->desc), GFP_KERNEL);
	if (!r->desc)
		return -ENOMEM;
	r->size = priv->tx_ring_size;
	r->head = 0;
	r->tail = 0;
	r->wake_thresh = max_t(u32, r->size / 4, 1);
	return 0;
}

/*
 * Called with the queue disabled and the completion timer cancelled, so
 * nothing else touches the ring: what the hardware never completed is dropped.
 */
void vnet_tx_stop(struct vnet_priv *priv)
{
	struct vnet_tx_ring *r = &priv->tx;
	unsigned int purged = 0;

	hrtimer_cancel(&priv->tx_timer);
	while (r->tail != r->head) {
		struct vnet_tx_desc *d = &r->desc[r->tail & (r->size - 1)];

		dev_kfree_skb_any(d->skb);
		d->skb = NULL;
		r->tail++;
		purged++;
	}
	netdev_tx_reset_queue(netdev_get_tx_queue(priv->dev, 0));
	if (purged) {
		u64_stats_update_begin(&priv->txc_stats.syncp);
		u64_stats_add(&priv->txc_stats.purged, purged);
		u64_stats_update_end(&priv->txc_stats.syncp);
		pr_debug("%s: dropped %u frames still in the TX ring\n",
			 priv->dev->name, purged);
	}
}

void vnet_tx_ring_free(struct vnet_priv *priv)
{
	kfree(priv->tx.desc);
	priv->tx.desc = NULL;
	priv->tx.size = 0;
}
