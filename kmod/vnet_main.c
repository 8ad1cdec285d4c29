// SPDX-License-Identifier: GPL-2.0
/*
 * vnet: a virtual Ethernet NIC for learning and tracing driver internals.
 *
 * This file holds the device's life cycle: module load/unload, net_device_ops,
 * rtnl_link_ops (ip link add/del type vnet, netns) and the statistics read
 * side.  The data paths live in vnet_tx.c and vnet_rx.c, the hardware behind
 * them in vnet_sim.c (simulated) and vnet_backend.c (/dev/vnet), ethtool in
 * vnet_ethtool.c; docs/architecture.md explains how they fit together.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <net/rtnetlink.h>
#include "vnet.h"

/* The trace events (vnet_trace.h) are defined here, once for the module. */
#define CREATE_TRACE_POINTS
#include "vnet_trace.h"

/*
 * Tracers read the rings at netdev_priv(dev) through struct vnet_ring_view,
 * and a queue's through struct vnet_queue_view, right behind its RX NAPI.
 */
static_assert(offsetof(struct vnet_priv, dev) == offsetof(struct vnet_ring_view, dev));
static_assert(offsetof(struct vnet_priv, queue) == offsetof(struct vnet_ring_view, queue));
static_assert(offsetof(struct vnet_queue, rx_napi) == 0);
static_assert(offsetof(struct vnet_queue, dev) == sizeof(struct napi_struct));
static_assert(offsetof(struct vnet_queue, tx) - offsetof(struct vnet_queue, dev) ==
	      offsetof(struct vnet_queue_view, tx));
static_assert(offsetof(struct vnet_queue, rx) - offsetof(struct vnet_queue, dev) ==
	      offsetof(struct vnet_queue_view, rx));
static_assert(offsetof(struct vnet_queue, index) - offsetof(struct vnet_queue, dev) ==
	      offsetof(struct vnet_queue_view, index));

#define VNET_NUMDEVS_MAX	16
static unsigned int numdevs = 1;
module_param(numdevs, uint, 0444);
MODULE_PARM_DESC(numdevs, "Devices (vnet0, vnet1, ...) created at load (0-16)");

static unsigned int queues = 2;
module_param(queues, uint, 0444);
MODULE_PARM_DESC(queues, "Queue pairs a new device can have (1-8; ethtool -L picks how many run, 1 at first)");

/* ---- open / stop / reconfigure ----------------------------------------- */

/*
 * Everything a running configuration owns: the rings of N queue pairs.  A
 * resize, an MTU change or a new queue count builds a whole new set before
 * it stops the old one (the "safe switch" of mlx5): when memory runs out,
 * the device keeps running as it was.
 */
struct vnet_rings {
	unsigned int n;
	struct vnet_tx_ring tx[VNET_QUEUES_MAX];
	struct vnet_rx_ring rx[VNET_QUEUES_MAX];
};

/* The RX NAPIs of queues FROM to TO - 1: on for a build, off for a swap. */
static void vnet_rx_napis_enable(struct vnet_priv *priv, unsigned int from,
				 unsigned int to)
{
	for (unsigned int i = from; i < to; i++)
		vnet_napi_enable(&priv->queue[i]->rx_napi);
}

static void vnet_rx_napis_disable(struct vnet_priv *priv, unsigned int from,
				  unsigned int to)
{
	for (unsigned int i = from; i < to; i++)
		vnet_napi_disable(&priv->queue[i]->rx_napi);
}

/*
 * A queue's NAPIs exist only while the queue runs: queues FROM to TO - 1 get
 * theirs as they join (open, ethtool -L to more), disabled until enabled.
 * A NAPI that stays registered but disabled is one the core may wait on
 * forever: on 7.x, turning threaded NAPI off (/sys/class/net/X/threaded)
 * waits for every listed NAPI to be idle, and a disabled one never is.
 */
static void vnet_napis_add(struct vnet_priv *priv, unsigned int from, unsigned int to)
{
	for (unsigned int i = from; i < to; i++) {
		struct vnet_queue *q = priv->queue[i];

		/* From 6.13 in config slot I: napi-set settings and the id survive. */
		vnet_napi_add(priv->dev, &q->rx_napi, vnet_napi_poll, i);
		vnet_napi_add_tx(priv->dev, &q->tx_napi, vnet_tx_poll);
	}
}

/* Queues FROM to TO - 1 stopped running: their NAPIs, disabled, go. */
static void vnet_napis_del(struct vnet_priv *priv, unsigned int from, unsigned int to)
{
	if (from >= to)
		return;
	for (unsigned int i = from; i < to; i++) {
		vnet_napi_del(&priv->queue[i]->tx_napi);
		vnet_napi_del(&priv->queue[i]->rx_napi);
	}
	/* One RCU wait for all (netif_napi_del() would wait for each). */
	synchronize_net();
}

static void vnet_rings_free(struct vnet_tx_ring *tx, struct vnet_rx_ring *rx)
{
	vnet_tx_ring_free(tx);
	vnet_rx_ring_free(rx);
}

/*
 * Needs the RX NAPIs of the N queues enabled (the XDP queue info records
 * their ids).  On failure R holds what was built: vnet_build_abort() it.
 */
static int vnet_rings_alloc(struct vnet_priv *priv, struct vnet_rings *r,
			    unsigned int n, u32 tx_size, u32 rx_size,
			    unsigned int mtu)
{
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->n = n;
	for (unsigned int i = 0; i < n && !err; i++) {
		err = vnet_tx_ring_alloc(&r->tx[i], tx_size);
		if (!err)
			err = vnet_rx_ring_alloc(priv->queue[i], &r->rx[i], rx_size, mtu);
	}
	return err;
}

/* Free a build, its queues' NAPIs still listed and disabled (see vnet_build_abort()). */
static void vnet_rings_free_all(struct vnet_rings *r)
{
	for (unsigned int i = 0; i < r->n; i++)
		vnet_rings_free(&r->tx[i], &r->rx[i]);
}

/*
 * A build that failed: free it, with the RX NAPIs of queues 0 to ENABLED - 1
 * disabled first, since a page pool bound to a NAPI may only be destroyed
 * then.  The RUNNING first queues keep running on their old rings: a short
 * RX pause.
 */
static void vnet_build_abort(struct vnet_priv *priv, struct vnet_rings *r,
			     unsigned int enabled, unsigned int running)
{
	vnet_rx_napis_disable(priv, 0, enabled);
	vnet_rings_free_all(r);
	vnet_rx_napis_enable(priv, 0, running);
	/*
	 * The generator only raises an interrupt when it wrote frames: a full
	 * ring would wait forever.  Process context: BHs off, so that the
	 * raised softirq runs at the enable.
	 */
	local_bh_disable();
	for (unsigned int i = 0; i < running; i++)
		napi_schedule(&priv->queue[i]->rx_napi);
	local_bh_enable();
}

/*
 * Make the rings of queue Q those built in R, quiesced.  Field by field, each
 * store once: the backend's wait conditions (vnet_backend.c) read these
 * fields without a lock while the rings are swapped, and a plain struct copy
 * would be a data race (the compiler may tear or repeat such stores).
 */
static void vnet_queue_install(struct vnet_queue *q, const struct vnet_tx_ring *ntx,
			       const struct vnet_rx_ring *nrx)
{
	struct vnet_tx_ring *tx = &q->tx;
	struct vnet_rx_ring *rx = &q->rx;

	WRITE_ONCE(tx->desc, ntx->desc);
	WRITE_ONCE(tx->size, ntx->size);
	WRITE_ONCE(tx->head, ntx->head);
	WRITE_ONCE(tx->tail, ntx->tail);
	WRITE_ONCE(tx->wake_thresh, ntx->wake_thresh);
	WRITE_ONCE(tx->head_seen, ntx->head_seen);
	WRITE_ONCE(tx->sent, ntx->sent);
	WRITE_ONCE(tx->doorbell, ntx->doorbell);
	WRITE_ONCE(rx->slot, nrx->slot);
	WRITE_ONCE(rx->size, nrx->size);
	WRITE_ONCE(rx->head, nrx->head);
	WRITE_ONCE(rx->tail, nrx->tail);
	WRITE_ONCE(rx->order, nrx->order);
	WRITE_ONCE(rx->pool, nrx->pool);
	WRITE_ONCE(rx->rxq, nrx->rxq);
}

static void vnet_rings_install(struct vnet_priv *priv, const struct vnet_rings *r)
{
	for (unsigned int i = 0; i < r->n; i++)
		vnet_queue_install(priv->queue[i], &r->tx[i], &r->rx[i]);
	WRITE_ONCE(priv->num_queues, r->n);
}

/*
 * Free the running configuration's rings, quiesced.  Frames the hardware
 * wrote that NAPI never took are dropped with them, and counted (rx_dropped).
 */
static void vnet_rings_retire(struct vnet_priv *priv)
{
	struct vnet_queue *q;

	vnet_for_each_queue(priv, q) {
		atomic64_add(vnet_rx_used(&q->rx), &q->rx_purged);
		vnet_rings_free(&q->tx, &q->rx);
	}
}

/*
 * Start the data paths on the rings in priv, with the RX NAPIs already
 * enabled.  Nothing here can fail.
 */
static void vnet_resume(struct vnet_priv *priv)
{
	struct net_device *dev = priv->dev;
	struct vnet_queue *q;

	vnet_for_each_queue(priv, q) {
		vnet_napi_enable(&q->tx_napi);
		/* netdev netlink: queue-get shows the NAPIs that serve the queues. */
		vnet_set_queue_napis(dev, q->index, &q->rx_napi, &q->tx_napi);
	}
	/* The hardware first: the qdisc's backlog reaches xmit as the queues wake. */
	priv->hw->start(priv);
	/* The rings run: a backend writer no longer waits for them. */
	WRITE_ONCE(priv->resume_pending, false);
	spin_lock_bh(&priv->carrier_lock);
	if (!priv->partner_down)
		netif_carrier_on(dev);
	spin_unlock_bh(&priv->carrier_lock);
	vnet_for_each_queue(priv, q) {
		struct netdev_queue *txq = netdev_get_tx_queue(dev, q->index);

		/* The lock XDP posts and the completion's wake take (vnet_tx.c). */
		__netif_tx_lock_bh(txq);
		q->tx_enabled = true;
		/* Wake, not start: after a rebuild the qdisc must be kicked. */
		netif_tx_wake_queue(txq);
		__netif_tx_unlock_bh(txq);
		/*
		 * Frames the hardware wrote before a switch of hardware are
		 * still in the ring, and their interrupt was cancelled: poll
		 * them now.
		 */
		if (vnet_rx_used(&q->rx)) {
			local_bh_disable();
			napi_schedule(&q->rx_napi);
			local_bh_enable();
		}
	}
}

/* Stop the stack's transmits on Q, under the queue's own lock. */
static void vnet_queue_stop_tx(struct vnet_queue *q)
{
	struct netdev_queue *txq = netdev_get_tx_queue(q->dev, q->index);

	/*
	 * Under the queue's own lock, which xmit, XDP posts and the
	 * completion's wake all hold: none of them runs on after this, so
	 * no doorbell reaches the hardware once it is stopped.
	 */
	__netif_tx_lock_bh(txq);
	/*
	 * A queue already stopped for a full ring (counted: tx-stop) ends
	 * that stop here, as the ring is emptied; from now on it is stopped
	 * because the device is, which netdev.yaml's tx-stop does not count.
	 * Counting the wake here keeps tx-stop and tx-wake paired at every
	 * rest, down included.  The queue lock makes us tx_stats' writer.
	 */
	if (q->tx_enabled && netif_tx_queue_stopped(txq))
		vnet_stats_update(&q->tx_stats, u64_stats_inc(&q->tx_stats.queue_woken));
	q->tx_enabled = false;
	netif_tx_stop_queue(txq);
	__netif_tx_unlock_bh(txq);
}

/*
 * Quiesce in the order a NIC would: stop the sources of work (the stack's
 * transmits, then the hardware: RX generator or backend), let the NAPIs
 * finish, cancel the interrupts, then drop what the hardware never sent.  The
 * rings stay allocated.
 */
static void vnet_quiesce(struct vnet_priv *priv, bool carrier_off)
{
	struct net_device *dev = priv->dev;
	struct vnet_queue *q;

	vnet_for_each_queue(priv, q)
		vnet_queue_stop_tx(q);
	priv->hw->stop(priv);
	if (carrier_off)
		netif_carrier_off(dev);
	vnet_for_each_queue(priv, q) {
		vnet_set_queue_napis(dev, q->index, NULL, NULL);
		/* An interrupt on its way to another CPU lands before its NAPI goes. */
		vnet_rx_irq_sync(q);
		/* NAPI is done: nothing can redirect from this queue any more. */
		vnet_napi_disable(&q->rx_napi);
		/* The TX poll may re-arm the interrupt: disable it before cancelling. */
		vnet_napi_disable(&q->tx_napi);
		vnet_tx_irq_cancel(q);
		vnet_tx_purge(q);
	}
}

static int vnet_open(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);
	unsigned int n = priv->num_queues;
	struct vnet_rings r;
	int err;

	/* A backend writer that comes now waits for the rings, not -ENETDOWN. */
	WRITE_ONCE(priv->resume_pending, true);
	/*
	 * NAPI first: from 6.13 it gets its id when enabled, and the XDP RX
	 * queue info records that id.  Nothing schedules it before the
	 * hardware starts (vnet_resume()).  The TX NAPIs stay disabled until
	 * then: vnet_napi_lock() says why it is held.
	 */
	vnet_napi_lock(dev);
	vnet_napis_add(priv, 0, n);
	vnet_rx_napis_enable(priv, 0, n);
	err = vnet_rings_alloc(priv, &r, n, priv->tx_ring_size,
			       priv->rx_ring_size, dev->mtu);
	if (err) {
		vnet_build_abort(priv, &r, n, 0);
		vnet_napis_del(priv, 0, n);
		vnet_napi_unlock(dev);
		/*
		 * The hardware stays stopped.  A backend writer that waited for
		 * the rings must learn that no start follows: the flag first,
		 * then the stop's wake-up, which it reads the flag after.
		 */
		WRITE_ONCE(priv->resume_pending, false);
		priv->hw->stop(priv);
		return err;
	}
	vnet_rings_install(priv, &r);
	vnet_resume(priv);
	vnet_napi_unlock(dev);
	pr_debug("%s: up, TX ring %u, RX ring %u, tx-usecs %u, %u queue pair(s)\n",
		 dev->name, priv->tx_ring_size, priv->rx_ring_size, priv->tx_usecs, n);
	return 0;
}

static int vnet_stop(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);

	vnet_napi_lock(dev);
	vnet_quiesce(priv, true);
	vnet_rings_retire(priv);
	/* After the rings: a page pool bound to a NAPI is destroyed before it. */
	vnet_napis_del(priv, 0, priv->num_queues);
	vnet_napi_unlock(dev);
	pr_debug("%s: down\n", dev->name);
	return 0;
}

/*
 * Plug other hardware in behind the rings (the backend binds or lets go).  A
 * running device quiesces for the swap, as a NIC resets: what the old
 * hardware had not sent is dropped and counted (tx_purged), and the carrier
 * stays.  RTNL held.
 */
void vnet_hw_switch(struct vnet_priv *priv, const struct vnet_hw_ops *hw)
{
	struct net_device *dev = priv->dev;
	bool running = netif_running(dev);

	ASSERT_RTNL();
	if (!running) {
		vnet_set_hw(priv, hw);
		return;
	}
	vnet_napi_lock(dev);
	WRITE_ONCE(priv->resume_pending, true);
	vnet_quiesce(priv, false);
	vnet_set_hw(priv, hw);
	vnet_rx_napis_enable(priv, 0, priv->num_queues);
	vnet_resume(priv);
	vnet_napi_unlock(dev);
}

/*
 * Queues FROM to TO - 1 no longer run (ethtool -L to fewer): start them, as
 * an unused queue is.  The stack no longer sends on them, and the TX
 * watchdog, which looks at every stopped queue of the device, would take a
 * queue stopped for good for a hung one.  A transmit that picked one of them
 * just before it went (AF_PACKET's qdisc bypass) finds it without a ring and
 * drops the frame (vnet_start_xmit()).
 */
static void vnet_park_queues(struct vnet_priv *priv, unsigned int from, unsigned int to)
{
	for (unsigned int i = from; i < to; i++)
		netif_tx_start_queue(netdev_get_tx_queue(priv->dev, i));
}

/* Queues FROM to TO - 1 are about to join: no transmit until they have rings. */
static void vnet_hold_queues(struct vnet_priv *priv, unsigned int from, unsigned int to)
{
	for (unsigned int i = from; i < to; i++)
		vnet_queue_stop_tx(priv->queue[i]);
}

/*
 * Rebuild the rings of a running device: N queue pairs at the given sizes
 * (RX buffers follow the MTU).  The new rings are built first, then the
 * device stops for the swap only.  The stack's queue count follows N; if
 * that fails, the old rings run on.  RTNL held.
 */
static int vnet_rebuild(struct vnet_priv *priv, unsigned int n, u32 tx_size,
			u32 rx_size, int mtu)
{
	struct net_device *dev = priv->dev;
	unsigned int old = priv->num_queues, most = max(n, old);
	struct vnet_rings r;
	int err;

	/* NAPIs are listed and disabled on the way: vnet_napi_lock() says why. */
	vnet_napi_lock(dev);
	/* Queues joining get their NAPIs for the build (their XDP queue info). */
	vnet_napis_add(priv, old, n);
	vnet_rx_napis_enable(priv, old, most);
	err = vnet_rings_alloc(priv, &r, n, tx_size, rx_size, mtu);
	if (err) {
		vnet_build_abort(priv, &r, most, old);
		vnet_napis_del(priv, old, n);
		goto out;
	}
	/* A swap of rings, not a link event: the carrier stays. */
	WRITE_ONCE(priv->resume_pending, true);
	vnet_quiesce(priv, false);
	/* The joining queues are quiet too: every RX NAPI is off now. */
	vnet_rx_napis_disable(priv, old, most);
	vnet_hold_queues(priv, old, n);
	/* With every queue stopped: the stack sends on none before the resume. */
	err = netif_set_real_num_queues(dev, n, n);
	if (err) {
		vnet_rings_free_all(&r);
		vnet_napis_del(priv, old, n);
		vnet_park_queues(priv, old, n);
		vnet_rx_napis_enable(priv, 0, old);
		vnet_resume(priv);
		goto out;
	}
	vnet_rings_retire(priv);
	vnet_rings_install(priv, &r);
	/* Before the generator starts again: it steers by the table. */
	if (n != old)
		vnet_rss_queues_changed(priv, n);
	/* Queues leaving: their rings are gone; their NAPIs, disabled, go too. */
	vnet_napis_del(priv, n, old);
	vnet_park_queues(priv, n, old);
	vnet_rx_napis_enable(priv, 0, n);
	vnet_resume(priv);
out:
	vnet_napi_unlock(dev);
	return err;
}

/*
 * ethtool -G and MTU changes: rebuild the rings at the new sizes (RX buffers
 * follow the MTU).  RTNL held.
 */
int vnet_reconfigure(struct net_device *dev, u32 tx_size, u32 rx_size, int mtu)
{
	struct vnet_priv *priv = netdev_priv(dev);
	int err;

	if (netif_running(dev)) {
		err = vnet_rebuild(priv, priv->num_queues, tx_size, rx_size, mtu);
		if (err)
			return err;
	}
	priv->tx_ring_size = tx_size;
	priv->rx_ring_size = rx_size;
	WRITE_ONCE(dev->mtu, mtu);
	return 0;
}

/*
 * Send from each queue's interrupt CPU on that queue (XPS), as virtio_net
 * and mlx5 set it up: a flow's transmits and its completions stay on one CPU.
 * Best effort: without the map the stack spreads flows by their hash.
 */
static void vnet_set_xps(struct vnet_priv *priv)
{
#ifdef CONFIG_XPS
	struct vnet_queue *q;

	vnet_for_each_queue(priv, q)
		netif_set_xps_queue(priv->dev, cpumask_of(q->irq_cpu), q->index);
#endif
}

/*
 * ethtool -L combined N: N queue pairs run, each with its rings (the core
 * already refused N above the maximum, and 0).  A failed build changes
 * nothing.  RTNL held.
 */
int vnet_set_num_queues(struct net_device *dev, unsigned int n)
{
	struct vnet_priv *priv = netdev_priv(dev);
	int err;

	if (n == priv->num_queues)
		return 0;
	/* ethtool's set_channels has no extack: the reason goes to the log. */
	if (rtnl_dereference(priv->be)) {
		if (net_ratelimit())
			netdev_info(dev, "a /dev/vnet file carries one queue pair: close it first\n");
		return -EBUSY;
	}
	if (netif_running(dev)) {
		err = vnet_rebuild(priv, n, priv->tx_ring_size, priv->rx_ring_size,
				   dev->mtu);
	} else {
		err = netif_set_real_num_queues(dev, n, n);
		if (!err) {
			/* The stop stopped every running queue: those leaving are parked. */
			vnet_park_queues(priv, n, priv->num_queues);
			WRITE_ONCE(priv->num_queues, n);
			vnet_rss_queues_changed(priv, n);
		}
	}
	if (!err)
		vnet_set_xps(priv);
	return err;
}

static int vnet_change_mtu(struct net_device *dev, int mtu)
{
	struct vnet_priv *priv = netdev_priv(dev);

	/* max_mtu already says so while XDP runs; the core checks it first. */
	if (rtnl_dereference(priv->xdp_prog) && mtu > VNET_XDP_MAX_MTU) {
		netdev_warn(dev, "MTU %d too large with XDP attached (max %lu)\n",
			    mtu, VNET_XDP_MAX_MTU);
		return -EINVAL;
	}
	if (netif_running(dev) && vnet_rx_order(mtu) != priv->queue[0]->rx.order)
		return vnet_reconfigure(dev, priv->tx_ring_size,
					priv->rx_ring_size, mtu);
	WRITE_ONCE(dev->mtu, mtu);
	return 0;
}

static void vnet_tx_timeout(struct net_device *dev, unsigned int txqueue)
{
	struct vnet_priv *priv = netdev_priv(dev);

	struct vnet_queue *q = priv->queue[txqueue];

	atomic64_inc(&priv->tx_timeouts);
	if (net_ratelimit())
		netdev_warn(dev, "TX queue %u timed out: ring %u/%u\n", txqueue,
			    vnet_tx_used(&q->tx), q->tx.size);
}

/* ---- statistics ---------------------------------------------------------- */

/*
 * Read queue pair Q's counters.  They live in the queue, not in its rings:
 * they survive down/up, ring resizes, XDP attach and ethtool -L (a queue
 * that stops running keeps its history, which the base then reports).
 */
void vnet_queue_read_counts(struct vnet_queue *q, struct vnet_queue_counts *c)
{
	u64 woken_by_xmit, woken_by_completion;

	vnet_read_stats(&q->txc_stats, {
		/* LESSON 7 TODO: report the frames and bytes sent (txc_stats.packets, .bytes) */
		c->tx_packets = u64_stats_read(&q->txc_stats.packets);
		c->tx_bytes = u64_stats_read(&q->txc_stats.bytes);
		/* LESSON 7 END */
		c->tx_dropped = u64_stats_read(&q->txc_stats.purged) +
				u64_stats_read(&q->txc_stats.hw_dropped);
		woken_by_completion = u64_stats_read(&q->txc_stats.queue_woken);
	});
	vnet_read_stats(&q->tx_stats, {
		c->tx_dropped += u64_stats_read(&q->tx_stats.dropped);
		c->tx_stopped = u64_stats_read(&q->tx_stats.queue_stopped);
		woken_by_xmit = u64_stats_read(&q->tx_stats.queue_woken);
	});
	c->tx_woken = woken_by_xmit + woken_by_completion;
	/*
	 * The frames lost are read in the same snapshot as the packets they
	 * are taken from (qstats rx-packets is their difference, below).
	 */
	vnet_read_stats(&q->rx_stats, {
		c->rx_lost = u64_stats_read(&q->rx_stats.lost);
		c->rx_lost_bytes = u64_stats_read(&q->rx_stats.lost_bytes);
		/* LESSON 7 TODO: report the frames and bytes received (rx_stats.packets, .bytes) */
		c->rx_packets = u64_stats_read(&q->rx_stats.packets);
		c->rx_bytes = u64_stats_read(&q->rx_stats.bytes);
		/* LESSON 7 END */
		c->rx_dropped = u64_stats_read(&q->rx_stats.dropped);
		c->rx_length_errors = u64_stats_read(&q->rx_stats.length_errors);
		c->rx_alloc_failed = u64_stats_read(&q->rx_stats.alloc_failed);
		c->napi_polls = u64_stats_read(&q->rx_stats.napi_polls);
	});
	vnet_read_stats(&q->gen_stats,
			c->rx_missed = u64_stats_read(&q->gen_stats.ring_full));
	/* Received into the ring, never polled: the ring was freed (down, rebuild). */
	c->rx_dropped += atomic64_read(&q->rx_purged);
}

void vnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	struct vnet_priv *priv = netdev_priv(dev);
	u64 length_errors = 0;

	/* Every queue pair, also those not running now: the device's whole history. */
	for (unsigned int i = 0; i < priv->max_queues; i++) {
		struct vnet_queue_counts c;

		vnet_queue_read_counts(priv->queue[i], &c);
		s->tx_packets += c.tx_packets;
		s->tx_bytes += c.tx_bytes;
		s->tx_dropped += c.tx_dropped;
		s->rx_packets += c.rx_packets;
		s->rx_bytes += c.rx_bytes;
		s->rx_dropped += c.rx_dropped;
		/* if_link.h: frames the "NIC" had no buffer for are rx_missed_errors only. */
		s->rx_missed_errors += c.rx_missed;
		length_errors += c.rx_length_errors;
	}
	/* Bad lengths are found by NAPI (the simulated NIC) or at write() (backend). */
	length_errors += atomic64_read(&priv->be_stats.rx_length_errors);
	/* Runt frames: errors, neither packets nor drops. */
	s->rx_length_errors = length_errors;
	s->rx_errors = length_errors;
}

#ifdef VNET_HAVE_QSTATS
/*
 * Per-queue statistics (netlink qstats-get), one queue pair's counters each.
 * Queues that stopped running (ethtool -L to fewer) keep theirs, and the
 * base reports them: so the queues plus the base always sum to the device's
 * whole history, as netdev.yaml asks.
 */
static void vnet_qstats_rx(const struct vnet_queue_counts *c,
			   struct netdev_queue_stats_rx *rx)
{
	/*
	 * netdev.yaml: received and passed to the stack, XDP being its first
	 * layer.  So not the frames dropped before XDP or the stack saw them,
	 * which if_link.h's rx_packets (ip -s link) does count.  On 64-bit
	 * machines the snapshot is no snapshot (no seqcount): a frame counted
	 * and lost between two loads could make the difference wrap.  A lost
	 * frame was counted first, and its loss is read first; the clamp
	 * covers what the CPU may still reorder.
	 */
	rx->packets += c->rx_packets > c->rx_lost ? c->rx_packets - c->rx_lost : 0;
	rx->bytes += c->rx_bytes > c->rx_lost_bytes ? c->rx_bytes - c->rx_lost_bytes : 0;
	rx->alloc_fail += c->rx_alloc_failed;
}

static void vnet_qstats_tx(const struct vnet_queue_counts *c,
			   struct netdev_queue_stats_tx *tx)
{
	tx->packets += c->tx_packets;
	tx->bytes += c->tx_bytes;
}

static void vnet_get_queue_stats_rx(struct net_device *dev, int idx,
				    struct netdev_queue_stats_rx *rx)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct vnet_queue_counts c;

	vnet_queue_read_counts(priv->queue[idx], &c);
	rx->packets = 0;
	rx->bytes = 0;
	rx->alloc_fail = 0;
	vnet_qstats_rx(&c, rx);
	/* Frames the "NIC" had no buffer for (rx_missed_errors). */
	vnet_qstats_rx_missed(rx, c.rx_missed);
}

static void vnet_get_queue_stats_tx(struct net_device *dev, int idx,
				    struct netdev_queue_stats_tx *tx)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct vnet_queue_counts c;

	vnet_queue_read_counts(priv->queue[idx], &c);
	tx->packets = 0;
	tx->bytes = 0;
	vnet_qstats_tx(&c, tx);
	vnet_qstats_tx_stop_wake(tx, c.tx_stopped, c.tx_woken);
}

/* The queues not running: their counters, summed (RTNL, as ethtool -L). */
static void vnet_get_base_stats(struct net_device *dev,
				struct netdev_queue_stats_rx *rx,
				struct netdev_queue_stats_tx *tx)
{
	struct vnet_priv *priv = netdev_priv(dev);
	u64 missed = 0, stopped = 0, woken = 0;

	rx->packets = 0;
	rx->bytes = 0;
	rx->alloc_fail = 0;
	tx->packets = 0;
	tx->bytes = 0;
	for (unsigned int i = priv->num_queues; i < priv->max_queues; i++) {
		struct vnet_queue_counts c;

		vnet_queue_read_counts(priv->queue[i], &c);
		vnet_qstats_rx(&c, rx);
		vnet_qstats_tx(&c, tx);
		missed += c.rx_missed;
		stopped += c.tx_stopped;
		woken += c.tx_woken;
	}
	vnet_qstats_rx_missed(rx, missed);
	vnet_qstats_tx_stop_wake(tx, stopped, woken);
}

static const struct netdev_stat_ops vnet_stat_ops = {
	.get_queue_stats_rx	= vnet_get_queue_stats_rx,
	.get_queue_stats_tx	= vnet_get_queue_stats_tx,
	.get_base_stats		= vnet_get_base_stats,
};
#endif

/* ---- net_device ---------------------------------------------------------- */

static int vnet_init_dev(struct net_device *dev);
static void vnet_uninit_dev(struct net_device *dev);

/*
 * ndo_change_carrier, `ip link set DEV carrier on|off` (RTNL): the link
 * partner, the far end of the cable, came or went.  Off is "no partner" and
 * takes the carrier down at once.  On brings it back only where the link
 * could be up anyway: the device is open (RTNL also orders us after a whole
 * open or rebuild) and no backend reader has stalled.
 */
static int vnet_change_carrier(struct net_device *dev, bool new_carrier)
{
	struct vnet_priv *priv = netdev_priv(dev);

	spin_lock_bh(&priv->carrier_lock);
	WRITE_ONCE(priv->partner_down, !new_carrier);
	if (!new_carrier)
		netif_carrier_off(dev);
	else if (netif_running(dev) && !vnet_backend_stalled(priv))
		netif_carrier_on(dev);
	spin_unlock_bh(&priv->carrier_lock);
	return 0;
}

/* Whether the link partner is away: the simulated NIC then receives nothing. */
bool vnet_partner_down(struct vnet_priv *priv)
{
	return READ_ONCE(priv->partner_down);
}

static const struct net_device_ops vnet_netdev_ops = {
	.ndo_init		= vnet_init_dev,
	.ndo_uninit		= vnet_uninit_dev,
	.ndo_open		= vnet_open,
	.ndo_stop		= vnet_stop,
	.ndo_start_xmit		= vnet_start_xmit,
	.ndo_get_stats64	= vnet_get_stats64,
	.ndo_tx_timeout		= vnet_tx_timeout,
	.ndo_set_mac_address	= eth_mac_addr,
	.ndo_validate_addr	= eth_validate_addr,
	.ndo_change_mtu		= vnet_change_mtu,
	.ndo_change_carrier	= vnet_change_carrier,
	.ndo_bpf		= vnet_ndo_bpf,
	/* Present at register time, so devmaps can redirect to us. */
	.ndo_xdp_xmit		= vnet_ndo_xdp_xmit,
};

bool vnet_is_vnet(const struct net_device *dev)
{
	return dev->netdev_ops == &vnet_netdev_ops;
}

static void vnet_setup(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);

	ether_setup(dev);
	dev->netdev_ops = &vnet_netdev_ops;
	dev->ethtool_ops = &vnet_ethtool_ops;
	dev->needs_free_netdev = true;
	dev->priv_flags |= IFF_LIVE_ADDR_CHANGE;
	/* LESSON 2 TODO: allow jumbo frames up to VNET_MAX_MTU (ether_setup() stops at 1500) */
	/* Jumbo frames: RX buffers grow with the MTU (XDP needs <= one page). */
	dev->max_mtu = VNET_MAX_MTU;
	/* LESSON 2 END */
	/* LESSON 2 TODO: give the device a random, locally administered MAC address */
	/*
	 * Random and locally administered, as veth does: no two devices from
	 * `ip link add` collide.  Devices made at load then get a permanent one
	 * (vnet_set_permanent_addr()); `ip link add ... address` sets its own.
	 */
	eth_hw_addr_random(dev);
	/* LESSON 2 END */
	vnet_set_xdp_features(dev);
	/* The NIC hands up its RSS hash; ethtool -K DEV rxhash off stops that. */
	dev->hw_features |= NETIF_F_RXHASH;
	dev->features |= NETIF_F_RXHASH;
	/* /sys/class/net/DEV/vnet/: the simulated NIC's knobs (vnet_sim.c). */
	dev->sysfs_groups[0] = &vnet_sysfs_group;
#ifdef VNET_HAVE_QSTATS
	dev->stat_ops = &vnet_stat_ops;
#endif

	priv->dev = dev;
	priv->tx_ring_size = VNET_RING_DEFAULT;
	priv->rx_ring_size = VNET_RING_DEFAULT;
	priv->link_speed = SPEED_10000;
	priv->link_duplex = DUPLEX_FULL;
	priv->tx_usecs = VNET_TX_USECS_DEFAULT;
	priv->rx_usecs = VNET_RX_USECS_DEFAULT;
	spin_lock_init(&priv->carrier_lock);
	vnet_rss_init(priv);
	/* Every queue pair the device could have; ndo_init sees how many it has. */
	for (unsigned int i = 0; i < VNET_QUEUES_MAX; i++) {
		struct vnet_queue *q = &priv->queues[i];

		priv->queue[i] = q;
		q->priv = priv;
		q->dev = dev;
		q->index = i;
		u64_stats_init(&q->tx_stats.syncp);
		u64_stats_init(&q->txc_stats.syncp);
		u64_stats_init(&q->rx_stats.syncp);
		u64_stats_init(&q->gen_stats.syncp);
		vnet_tx_timer_init(q);
		vnet_rx_irq_init(q);
	}
	vnet_set_hw(priv, &vnet_sim_hw);
	vnet_sim_init(priv);
}

static int vnet_init_dev(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);
	int err;

	/*
	 * vnet_validate() refuses other queue counts from ip link; this is the
	 * last word for any other way a device could be made (queue pairs: see
	 * vnet_check_queues()).
	 */
	if (dev->num_tx_queues != dev->num_rx_queues ||
	    dev->num_tx_queues > VNET_QUEUES_MAX) {
		netdev_err(dev, "vnet has up to %u queue pairs, not %u TX and %u RX queues\n",
			   VNET_QUEUES_MAX, dev->num_tx_queues, dev->num_rx_queues);
		return -EOPNOTSUPP;
	}
	priv->max_queues = dev->num_tx_queues;
	/* One queue pair runs at first, as on netdevsim: ethtool -L adds the others. */
	err = netif_set_real_num_queues(dev, 1, 1);
	if (err)
		return err;
	priv->num_queues = 1;
	/*
	 * The TX queues beyond the running ones stay started but unused: the
	 * stack sends only on the first real_num_tx_queues, and the watchdog
	 * looks at every stopped queue, also those (vnet_park_queues()).
	 * NAPIs come with the rings, when the device opens (vnet_napis_add()).
	 */
	/*
	 * No carrier until opened, whoever made the device (load or
	 * `ip link add`): not yet registered, so no link event is sent.
	 */
	netif_carrier_off(dev);
	return 0;
}

static void vnet_uninit_dev(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);

	/* The device is closed: vnet_stop() cancelled the timers, nothing re-arms them. */
	WARN_ON_ONCE(hrtimer_active(&priv->rx_timer));
	/* A process on /dev/vnet lets go of the device (its calls get -ENXIO). */
	vnet_backend_detach(priv);
	/* vnet_stop() also deleted the NAPIs: none is left to wait for. */
	for (unsigned int i = 0; i < priv->max_queues; i++)
		WARN_ON_ONCE(hrtimer_active(&priv->queue[i]->tx_timer));
}

/*
 * Queue pairs: TX queue I and RX queue I share queue pair I, so the counts
 * must be equal, and at most VNET_QUEUES_MAX.  The core sizes the device's
 * queues from these attributes (or from vnet_num_queues() when they are not
 * given) before the driver is asked anything, so they are checked here,
 * where the user gets the reason.
 */
static unsigned int vnet_num_queues(void)
{
	return queues;
}

static int vnet_check_queues(struct nlattr *tb[], struct netlink_ext_ack *extack)
{
	struct nlattr *tx = tb[IFLA_NUM_TX_QUEUES], *rx = tb[IFLA_NUM_RX_QUEUES];
	u32 ntx = tx ? nla_get_u32(tx) : vnet_num_queues();
	u32 nrx = rx ? nla_get_u32(rx) : vnet_num_queues();

	if (!ntx || !nrx) {
		NL_SET_ERR_MSG_ATTR(extack, ntx ? rx : tx, "vnet needs at least one queue pair");
		return -EINVAL;
	}
	if (ntx > VNET_QUEUES_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, tx, "vnet has at most "
				    __stringify(VNET_QUEUES_MAX) " TX queues");
		return -EOPNOTSUPP;
	}
	if (nrx > VNET_QUEUES_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, rx, "vnet has at most "
				    __stringify(VNET_QUEUES_MAX) " RX queues");
		return -EOPNOTSUPP;
	}
	if (ntx != nrx) {
		NL_SET_ERR_MSG_ATTR(extack, tx ?: rx,
				    "vnet has queue pairs: numtxqueues must equal numrxqueues");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int vnet_validate(struct nlattr *tb[], struct nlattr *data[],
			 struct netlink_ext_ack *extack)
{
	int err = vnet_check_queues(tb, extack);

	if (err)
		return err;
	if (tb[IFLA_ADDRESS]) {
		if (nla_len(tb[IFLA_ADDRESS]) != ETH_ALEN) {
			NL_SET_ERR_MSG_MOD(extack, "MAC address must be 6 bytes");
			return -EINVAL;
		}
		if (!is_valid_ether_addr(nla_data(tb[IFLA_ADDRESS]))) {
			NL_SET_ERR_MSG_MOD(extack, "MAC address must be unicast and not zero");
			return -EADDRNOTAVAIL;
		}
	}
	return 0;
}

/*
 * Devices carry these ops whether made at load or by `ip link add`, so
 * `ip link del` works on all of them, a netns that dies destroys its vnet
 * devices, and unload removes every one in every netns.
 */
static struct rtnl_link_ops vnet_link_ops __read_mostly = {
	.kind		= VNET_DRV_NAME,
	.priv_size	= sizeof(struct vnet_priv),
	.setup		= vnet_setup,
	.validate	= vnet_validate,
	.get_num_tx_queues = vnet_num_queues,
	.get_num_rx_queues = vnet_num_queues,
};

/*
 * A real NIC reads its address from an EEPROM: the same one at every boot.
 * The devices made at load have one too, made from "vnet" and NUMBER, the
 * order they are made in (not the N of their name, which skips names taken):
 * 02:76:6e:65:74:NN.  The 02 in front makes it unicast and locally
 * administered, so it can never be a vendor's.  NET_ADDR_PERM tells
 * register_netdevice() to copy it to perm_addr, which `ethtool -P` shows and
 * which stays when a user changes the address.  __maybe_unused: lesson 2's
 * skeleton leaves the call to the learner.
 */
static_assert(VNET_NUMDEVS_MAX <= 256);

static void __init __maybe_unused vnet_set_permanent_addr(struct net_device *dev,
							  unsigned int number)
{
	const u8 addr[ETH_ALEN] = { 0x02, 0x76, 0x6e, 0x65, 0x74, (u8)number };

	eth_hw_addr_set(dev, addr);
	dev->addr_assign_type = NET_ADDR_PERM;
}

/* __maybe_unused: lesson 1's skeleton leaves the call to the learner. */
static int __init __maybe_unused vnet_create_one(unsigned int number)
{
	struct net_device *dev;
	int err;

	dev = alloc_netdev_mqs(sizeof(struct vnet_priv), "vnet%d", NET_NAME_ENUM,
			       vnet_setup, queues, queues);
	if (!dev)
		return -ENOMEM;
	/* LESSON 2 TODO: give a device made at load its permanent address */
	vnet_set_permanent_addr(dev, number);
	/* LESSON 2 END */
	dev->rtnl_link_ops = &vnet_link_ops;
	err = register_netdevice(dev);
	if (err)
		free_netdev(dev);
	return err;
}

static int __init vnet_init(void)
{
	int err;

	if (numdevs > VNET_NUMDEVS_MAX) {
		pr_err("numdevs=%u: at most %u devices\n", numdevs, VNET_NUMDEVS_MAX);
		return -EINVAL;
	}
	if (!queues || queues > VNET_QUEUES_MAX) {
		pr_err("queues=%u: from 1 to %u queue pairs\n", queues, VNET_QUEUES_MAX);
		return -EINVAL;
	}
	vnet_fault_init();
	err = rtnl_link_register(&vnet_link_ops);
	if (err) {
		vnet_fault_exit();
		return err;
	}

	rtnl_lock();
	/* LESSON 1 TODO: make numdevs devices (vnet_create_one), stopping at the first error */
	for (unsigned int i = 0; i < numdevs && !err; i++)
		err = vnet_create_one(i);
	/* LESSON 1 END */
	rtnl_unlock();
	/*
	 * /dev/vnet last: a file opened while the module is still loading would
	 * outlive it if a later step failed (module text freed under an open file).
	 */
	if (!err)
		err = vnet_backend_init();
	if (err) {
		/* Also deletes the devices already made. */
		rtnl_link_unregister(&vnet_link_ops);
		vnet_fault_exit();
		return err;
	}
	/* LESSON 1 TODO: say in the kernel log that the module is loaded, and with how many devices */
	pr_info("loaded, %u device(s)\n", numdevs);
	/* LESSON 1 END */
	return 0;
}

static void __exit vnet_exit(void)
{
	/* No file is open (each holds a module reference): none is bound. */
	vnet_backend_exit();
	/* Deletes every vnet device, in every network namespace. */
	rtnl_link_unregister(&vnet_link_ops);
	vnet_fault_exit();
}

module_init(vnet_init);
module_exit(vnet_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Virtual Ethernet NIC for learning and tracing driver internals");
MODULE_ALIAS_RTNL_LINK(VNET_DRV_NAME);
