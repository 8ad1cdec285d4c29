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

/* Tracers read the rings at netdev_priv(dev) through struct vnet_ring_view. */
static_assert(offsetof(struct vnet_priv, dev) == offsetof(struct vnet_ring_view, dev));
static_assert(offsetof(struct vnet_priv, tx) == offsetof(struct vnet_ring_view, tx));
static_assert(offsetof(struct vnet_priv, rx) == offsetof(struct vnet_ring_view, rx));

#define VNET_NUMDEVS_MAX	16
static unsigned int numdevs = 1;
module_param(numdevs, uint, 0444);
MODULE_PARM_DESC(numdevs, "Devices (vnet0, vnet1, ...) created at load (0-16)");

/* ---- open / stop / reconfigure ----------------------------------------- */

/*
 * Everything a running configuration owns.  A resize or an MTU change builds
 * a whole new set before it stops the old one (the "safe switch" of mlx5):
 * when memory runs out, the device keeps running as it was.
 */
struct vnet_rings {
	struct vnet_tx_ring tx;
	struct vnet_rx_ring rx;
};

/*
 * Needs the RX NAPI enabled (the XDP queue info records its id).  On failure
 * N holds what was built: vnet_rings_free() it, with the NAPI disabled, since a
 * page pool bound to a NAPI may only be destroyed then.
 */
static int vnet_rings_alloc(struct vnet_priv *priv, struct vnet_rings *n,
			    u32 tx_size, u32 rx_size, unsigned int mtu)
{
	int err;

	memset(n, 0, sizeof(*n));
	err = vnet_tx_ring_alloc(&n->tx, tx_size);
	if (!err)
		err = vnet_rx_ring_alloc(priv, &n->rx, rx_size, mtu);
	return err;
}

static void vnet_rings_free(struct vnet_tx_ring *tx, struct vnet_rx_ring *rx)
{
	vnet_tx_ring_free(tx);
	vnet_rx_ring_free(rx);
}

/*
 * Make N the running rings, quiesced.  Field by field, each store once: the
 * backend's wait conditions (vnet_backend.c) read these fields without a lock
 * while the rings are swapped, and a plain struct copy would be a data race
 * (the compiler may tear or repeat such stores).
 */
static void vnet_rings_install(struct vnet_priv *priv, const struct vnet_rings *n)
{
	struct vnet_tx_ring *tx = &priv->tx;
	struct vnet_rx_ring *rx = &priv->rx;

	WRITE_ONCE(tx->desc, n->tx.desc);
	WRITE_ONCE(tx->size, n->tx.size);
	WRITE_ONCE(tx->head, n->tx.head);
	WRITE_ONCE(tx->tail, n->tx.tail);
	WRITE_ONCE(tx->wake_thresh, n->tx.wake_thresh);
	WRITE_ONCE(tx->head_seen, n->tx.head_seen);
	WRITE_ONCE(tx->sent, n->tx.sent);
	WRITE_ONCE(tx->doorbell, n->tx.doorbell);
	WRITE_ONCE(rx->slot, n->rx.slot);
	WRITE_ONCE(rx->size, n->rx.size);
	WRITE_ONCE(rx->head, n->rx.head);
	WRITE_ONCE(rx->tail, n->rx.tail);
	WRITE_ONCE(rx->order, n->rx.order);
	WRITE_ONCE(rx->pool, n->rx.pool);
	WRITE_ONCE(rx->rxq, n->rx.rxq);
}

/*
 * Free the running configuration's rings, quiesced.  Frames the hardware
 * wrote that NAPI never took are dropped with them, and counted (rx_dropped).
 */
static void vnet_rings_retire(struct vnet_priv *priv)
{
	atomic64_add(vnet_rx_used(&priv->rx), &priv->rx_purged);
	vnet_rings_free(&priv->tx, &priv->rx);
}

/*
 * Start the data paths on the rings in priv, with the RX NAPI already enabled.
 * Nothing here can fail.
 */
static void vnet_resume(struct vnet_priv *priv)
{
	struct net_device *dev = priv->dev;
	struct netdev_queue *txq = netdev_get_tx_queue(dev, 0);

	napi_enable(&priv->tx_napi);
	/* netdev netlink: queue-get shows the RX queue served by this NAPI. */
	vnet_set_rx_queue_napi(dev, &priv->rx_napi);
	/* The hardware first: the qdisc's backlog reaches xmit as the queue wakes. */
	priv->hw->start(priv);
	/* The rings run: a backend writer no longer waits for them. */
	WRITE_ONCE(priv->resume_pending, false);
	spin_lock_bh(&priv->carrier_lock);
	if (!priv->partner_down)
		netif_carrier_on(dev);
	spin_unlock_bh(&priv->carrier_lock);
	/* The lock XDP posts and the completion's wake take (vnet_tx.c). */
	__netif_tx_lock_bh(txq);
	priv->tx_enabled = true;
	/* Wake, not start: after a rebuild the qdisc must be kicked. */
	netif_tx_wake_queue(txq);
	__netif_tx_unlock_bh(txq);
	/*
	 * Frames the hardware wrote before a switch of hardware are still in
	 * the ring, and their interrupt was cancelled: poll them now.
	 */
	if (vnet_rx_used(&priv->rx)) {
		local_bh_disable();
		napi_schedule(&priv->rx_napi);
		local_bh_enable();
	}
}

/*
 * Quiesce in the order a NIC would: stop the sources of work (the stack's
 * transmits, then the hardware: RX generator or backend), let both NAPIs
 * finish, cancel the interrupts, then drop what the hardware never sent.  The
 * rings stay allocated.
 */
static void vnet_quiesce(struct vnet_priv *priv, bool carrier_off)
{
	struct net_device *dev = priv->dev;
	struct netdev_queue *txq = netdev_get_tx_queue(dev, 0);

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
	if (priv->tx_enabled && netif_tx_queue_stopped(txq)) {
		u64_stats_update_begin(&priv->tx_stats.syncp);
		u64_stats_inc(&priv->tx_stats.queue_woken);
		u64_stats_update_end(&priv->tx_stats.syncp);
	}
	priv->tx_enabled = false;
	netif_tx_stop_queue(txq);
	__netif_tx_unlock_bh(txq);
	priv->hw->stop(priv);
	if (carrier_off)
		netif_carrier_off(dev);
	vnet_set_rx_queue_napi(dev, NULL);
	/* NAPI is done: nothing can redirect from this queue any more. */
	napi_disable(&priv->rx_napi);
	/* The TX poll may re-arm the interrupt: disable it before cancelling. */
	napi_disable(&priv->tx_napi);
	vnet_tx_irq_cancel(priv);
	vnet_tx_purge(priv);
}

static int vnet_open(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct vnet_rings n;
	int err;

	/* A backend writer that comes now waits for the rings, not -ENETDOWN. */
	WRITE_ONCE(priv->resume_pending, true);
	/*
	 * NAPI first: from 6.13 it gets its id when enabled, and the XDP RX
	 * queue info records that id.  Nothing schedules it before the
	 * hardware starts (vnet_resume()).
	 */
	napi_enable(&priv->rx_napi);
	err = vnet_rings_alloc(priv, &n, priv->tx_ring_size,
			       priv->rx_ring_size, dev->mtu);
	if (err) {
		napi_disable(&priv->rx_napi);
		vnet_rings_free(&n.tx, &n.rx);
		/*
		 * The hardware stays stopped.  A backend writer that waited for
		 * the rings must learn that no start follows: the flag first,
		 * then the stop's wake-up, which it reads the flag after.
		 */
		WRITE_ONCE(priv->resume_pending, false);
		priv->hw->stop(priv);
		return err;
	}
	vnet_rings_install(priv, &n);
	vnet_resume(priv);
	pr_debug("%s: up, TX ring %u, RX ring %u, tx-usecs %u\n", dev->name,
		 priv->tx.size, priv->rx.size, priv->tx_usecs);
	return 0;
}

static int vnet_stop(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);

	vnet_quiesce(priv, true);
	vnet_rings_retire(priv);
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
	if (running) {
		WRITE_ONCE(priv->resume_pending, true);
		vnet_quiesce(priv, false);
	}
	vnet_set_hw(priv, hw);
	if (running) {
		napi_enable(&priv->rx_napi);
		vnet_resume(priv);
	}
}

/*
 * ethtool -G and MTU changes: rebuild the rings at the new sizes (RX buffers
 * follow the MTU).  A running device gets its new rings built first, then
 * stops for the swap only, which cannot fail.  RTNL held.
 */
int vnet_reconfigure(struct net_device *dev, u32 tx_size, u32 rx_size, int mtu)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct vnet_rings n;
	int err;

	if (netif_running(dev)) {
		err = vnet_rings_alloc(priv, &n, tx_size, rx_size, mtu);
		if (err) {
			/* A short RX pause; the old rings run on, untouched. */
			napi_disable(&priv->rx_napi);
			vnet_rings_free(&n.tx, &n.rx);
			napi_enable(&priv->rx_napi);
			/*
			 * The generator only kicks NAPI when it wrote frames: a
			 * full ring would wait forever.  Process context: BHs
			 * off, so that the raised softirq runs at the enable.
			 */
			local_bh_disable();
			napi_schedule(&priv->rx_napi);
			local_bh_enable();
			return err;
		}
		/* A swap of rings, not a link event: the carrier stays. */
		WRITE_ONCE(priv->resume_pending, true);
		vnet_quiesce(priv, false);
		vnet_rings_retire(priv);
		vnet_rings_install(priv, &n);
	}
	priv->tx_ring_size = tx_size;
	priv->rx_ring_size = rx_size;
	WRITE_ONCE(dev->mtu, mtu);
	if (netif_running(dev)) {
		napi_enable(&priv->rx_napi);
		vnet_resume(priv);
	}
	return 0;
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
	if (netif_running(dev) && vnet_rx_order(mtu) != priv->rx.order)
		return vnet_reconfigure(dev, priv->tx_ring_size,
					priv->rx_ring_size, mtu);
	WRITE_ONCE(dev->mtu, mtu);
	return 0;
}

static void vnet_tx_timeout(struct net_device *dev, unsigned int txqueue)
{
	struct vnet_priv *priv = netdev_priv(dev);

	atomic64_inc(&priv->tx_timeouts);
	if (net_ratelimit())
		netdev_warn(dev, "TX queue %u timed out: ring %u/%u\n", txqueue,
			    vnet_tx_used(&priv->tx), priv->tx.size);
}

/* ---- statistics ---------------------------------------------------------- */

void vnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	struct vnet_priv *priv = netdev_priv(dev);
	u64 tx_dropped, purged, rx_dropped, ring_full, length_errors;

	vnet_read_stats(&priv->txc_stats, {
		/* LESSON 7 TODO: report the frames and bytes sent (txc_stats.packets, .bytes) */
		s->tx_packets = u64_stats_read(&priv->txc_stats.packets);
		s->tx_bytes = u64_stats_read(&priv->txc_stats.bytes);
		/* LESSON 7 END */
		purged = u64_stats_read(&priv->txc_stats.purged) +
			 u64_stats_read(&priv->txc_stats.hw_dropped);
	});
	vnet_read_stats(&priv->tx_stats,
			tx_dropped = u64_stats_read(&priv->tx_stats.dropped));
	vnet_read_stats(&priv->rx_stats, {
		/* LESSON 7 TODO: report the frames and bytes received (rx_stats.packets, .bytes) */
		s->rx_packets = u64_stats_read(&priv->rx_stats.packets);
		s->rx_bytes = u64_stats_read(&priv->rx_stats.bytes);
		/* LESSON 7 END */
		rx_dropped = u64_stats_read(&priv->rx_stats.dropped);
		length_errors = u64_stats_read(&priv->rx_stats.length_errors);
	});
	vnet_read_stats(&priv->gen_stats,
			ring_full = u64_stats_read(&priv->gen_stats.ring_full));
	/* Bad lengths are found by NAPI (the simulated NIC) or at write() (backend). */
	length_errors += atomic64_read(&priv->be_stats.rx_length_errors);
	/* Received into the ring, never polled: the ring was freed (down, rebuild). */
	rx_dropped += atomic64_read(&priv->rx_purged);

	s->tx_dropped = tx_dropped + purged;
	/* if_link.h: frames the "NIC" had no buffer for are rx_missed_errors only. */
	s->rx_dropped = rx_dropped;
	s->rx_missed_errors = ring_full;
	/* Runt frames: errors, neither packets nor drops. */
	s->rx_length_errors = length_errors;
	s->rx_errors = length_errors;
}

#ifdef VNET_HAVE_QSTATS
/*
 * Per-queue statistics (netlink qstats-get).  vnet has one queue pair, and its
 * counters live in the device, not in the rings: they survive down/up, ring
 * resizes and XDP attach.  So queue 0 carries the device's whole history, the
 * same figures as ndo_get_stats64 and ethtool -S (but for rx-packets, below),
 * and the base is zero.
 */
static void vnet_get_queue_stats_rx(struct net_device *dev, int idx,
				    struct netdev_queue_stats_rx *rx)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct rtnl_link_stats64 s = {};
	u64 packets, bytes, alloc_failed, lost, lost_bytes;

	vnet_get_stats64(dev, &s);
	/*
	 * netdev.yaml: received and passed to the stack, XDP being its first
	 * layer.  So not the frames dropped before XDP or the stack saw them,
	 * which if_link.h's rx_packets (ip -s link) does count.  Read in one
	 * snapshot with what is taken from them: frames lost between two
	 * reads would make the difference wrap.
	 */
	vnet_read_stats(&priv->rx_stats, {
		lost = u64_stats_read(&priv->rx_stats.lost);
		lost_bytes = u64_stats_read(&priv->rx_stats.lost_bytes);
		alloc_failed = u64_stats_read(&priv->rx_stats.alloc_failed);
		packets = u64_stats_read(&priv->rx_stats.packets);
		bytes = u64_stats_read(&priv->rx_stats.bytes);
	});
	/*
	 * On 64-bit machines the snapshot is no snapshot (no seqcount): a
	 * frame counted and lost between two loads could make the difference
	 * wrap.  A lost frame was counted first, and its loss is read first;
	 * the clamp covers what the CPU may still reorder.
	 */
	rx->packets = packets > lost ? packets - lost : 0;
	rx->bytes = bytes > lost_bytes ? bytes - lost_bytes : 0;
	rx->alloc_fail = alloc_failed;
	/* Frames the "NIC" had no buffer for (rx_missed_errors). */
	vnet_qstats_rx_missed(rx, s.rx_missed_errors);
}

static void vnet_get_queue_stats_tx(struct net_device *dev, int idx,
				    struct netdev_queue_stats_tx *tx)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct rtnl_link_stats64 s = {};
	u64 stopped, woken_by_xmit, woken_by_completion;

	vnet_get_stats64(dev, &s);
	tx->packets = s.tx_packets;
	tx->bytes = s.tx_bytes;
	vnet_read_stats(&priv->tx_stats, {
		stopped = u64_stats_read(&priv->tx_stats.queue_stopped);
		woken_by_xmit = u64_stats_read(&priv->tx_stats.queue_woken);
	});
	vnet_read_stats(&priv->txc_stats, woken_by_completion =
			u64_stats_read(&priv->txc_stats.queue_woken));
	vnet_qstats_tx_stop_wake(tx, stopped, woken_by_xmit + woken_by_completion);
}

static void vnet_get_base_stats(struct net_device *dev,
				struct netdev_queue_stats_rx *rx,
				struct netdev_queue_stats_tx *tx)
{
	/* Zero, and so reported: queue 0 holds everything (see above). */
	rx->packets = 0;
	rx->bytes = 0;
	rx->alloc_fail = 0;
	vnet_qstats_rx_missed(rx, 0);
	tx->packets = 0;
	tx->bytes = 0;
	vnet_qstats_tx_stop_wake(tx, 0, 0);
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
	u64_stats_init(&priv->tx_stats.syncp);
	u64_stats_init(&priv->txc_stats.syncp);
	u64_stats_init(&priv->rx_stats.syncp);
	u64_stats_init(&priv->gen_stats.syncp);
	spin_lock_init(&priv->carrier_lock);
	vnet_set_hw(priv, &vnet_sim_hw);
	vnet_sim_init(priv);
	vnet_tx_timer_init(priv);
}

static int vnet_init_dev(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);

	/*
	 * vnet_validate() refuses other queue counts from ip link; this is the
	 * last word for any other way a device could be made (one queue pair:
	 * see vnet_check_queues()).
	 */
	if (dev->num_tx_queues != 1 || dev->num_rx_queues != 1) {
		netdev_err(dev, "vnet has one queue pair, not %u TX and %u RX queues\n",
			   dev->num_tx_queues, dev->num_rx_queues);
		return -EOPNOTSUPP;
	}

	/* From 6.13 in config slot 0: napi-set settings and the id survive down/up. */
	vnet_napi_add(dev, &priv->rx_napi, vnet_napi_poll);
	netif_napi_add_tx(dev, &priv->tx_napi, vnet_tx_poll);
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

	/* The device is closed: vnet_stop() cancelled both timers, nothing re-arms them. */
	WARN_ON_ONCE(hrtimer_active(&priv->tx_timer) || hrtimer_active(&priv->rx_timer));
	/* A process on /dev/vnet lets go of the device (its calls get -ENXIO). */
	vnet_backend_detach(priv);
	/* One RCU wait for both (netif_napi_del() would wait for each). */
	__netif_napi_del(&priv->tx_napi);
	__netif_napi_del(&priv->rx_napi);
	synchronize_net();
}

/*
 * One queue pair: the driver has one TX ring, one RX ring and one NAPI of
 * each, all on queue 0.  The core sizes the device's queues from these
 * attributes before the driver is asked anything, and then spreads transmits
 * over every TX queue it made, each under its own lock: on one ring, two CPUs
 * would fill the same slot.  So a count other than 1 is refused here, where
 * the user gets the reason.
 */
static int vnet_check_queues(struct nlattr *tb[], struct netlink_ext_ack *extack)
{
	struct nlattr *tx = tb[IFLA_NUM_TX_QUEUES], *rx = tb[IFLA_NUM_RX_QUEUES];

	if (tx && nla_get_u32(tx) != 1) {
		NL_SET_ERR_MSG_ATTR(extack, tx, "vnet has one TX queue: numtxqueues must be 1");
		return -EOPNOTSUPP;
	}
	if (rx && nla_get_u32(rx) != 1) {
		NL_SET_ERR_MSG_ATTR(extack, rx, "vnet has one RX queue: numrxqueues must be 1");
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

	dev = alloc_netdev(sizeof(struct vnet_priv), "vnet%d", NET_NAME_ENUM,
			   vnet_setup);
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
