// SPDX-License-Identifier: GPL-2.0
/*
 * ethtool: driver info, link state and settings (-s), the register dump
 * (-d), ring sizes (-g/-G), TX completion delay (-c/-C) and the driver's
 * statistics (-S).
 */
#include <linux/ethtool.h>
#include <linux/linkmode.h>
#include <linux/log2.h>
#include <linux/netdevice.h>
#include "vnet.h"
#include "vnet_uapi.h"

/*
 * ethtool -S: one table, one line per counter.  A counter lives in one of
 * the blocks of struct vnet_priv (vnet.h), each with a single writer; the
 * line says which block and where in it, and its name.  Adding a counter is
 * its field in vnet.h and its line here.  The order of the lines is the
 * order ethtool prints.
 */
enum vnet_stat_block {
	VNET_BLK_LINK,		/* struct rtnl_link_stats64, as ip -s link shows it */
	VNET_BLK_TX,		/* each queue's tx_stats: written at xmit */
	VNET_BLK_TXC,		/* each queue's txc_stats: written at TX completion */
	VNET_BLK_RX,		/* each queue's rx_stats: written in the NAPI poll */
	VNET_BLK_GEN,		/* each queue's gen_stats: written by the generator timer */
	VNET_BLK_ATOMIC,	/* an atomic64_t of struct vnet_priv: several writers */
	VNET_BLK_WOKEN,		/* the queues' wakes: xmit's and the completion's */
	VNET_BLK_QUEUE,		/* an atomic64_t of struct vnet_queue, summed */
};

struct vnet_stat_desc {
	char name[ETH_GSTRING_LEN];
	u8 block;
	u32 offset;		/* of the counter in its block */
};

#define VNET_LINK(name, field) \
	{ name, VNET_BLK_LINK, offsetof(struct rtnl_link_stats64, field) }
#define VNET_TX(name, field) \
	{ name, VNET_BLK_TX, offsetof(struct vnet_tx_stats, field) }
#define VNET_TXC(name, field) \
	{ name, VNET_BLK_TXC, offsetof(struct vnet_txc_stats, field) }
#define VNET_RX(name, field) \
	{ name, VNET_BLK_RX, offsetof(struct vnet_rx_stats, field) }
#define VNET_GEN(name, field) \
	{ name, VNET_BLK_GEN, offsetof(struct vnet_gen_stats, field) }
#define VNET_ATOMIC(name, field) \
	{ name, VNET_BLK_ATOMIC, offsetof(struct vnet_priv, field) }

static const struct vnet_stat_desc vnet_stats[] = {
	VNET_LINK("tx_packets", tx_packets),
	VNET_LINK("tx_bytes", tx_bytes),
	VNET_LINK("tx_dropped", tx_dropped),
	VNET_LINK("rx_packets", rx_packets),
	VNET_LINK("rx_bytes", rx_bytes),
	VNET_LINK("rx_dropped", rx_dropped),
	VNET_LINK("rx_length_errors", rx_length_errors),
	VNET_TX("tx_arp", proto.arp),
	VNET_TX("tx_ipv4", proto.ipv4),
	VNET_TX("tx_ipv6", proto.ipv6),
	VNET_TX("tx_other", proto.other),
	VNET_RX("rx_arp", proto.arp),
	VNET_RX("rx_ipv4", proto.ipv4),
	VNET_RX("rx_ipv6", proto.ipv6),
	VNET_RX("rx_other", proto.other),
	VNET_RX("napi_polls", napi_polls),
	VNET_RX("napi_budget_exhausted", napi_budget_exhausted),
	VNET_GEN("arp_generated", arp_generated),
	VNET_GEN("udp_generated", udp_generated),
	VNET_GEN("tcp_generated", tcp_generated),
	VNET_GEN("rx_ring_full", ring_full),
	VNET_RX("rx_alloc_failed", alloc_failed),
	VNET_TXC("tx_completions", completions),
	VNET_TXC("tx_completion_runs", completion_runs),
	VNET_TXC("tx_purged", purged),
	VNET_TX("tx_queue_stopped", queue_stopped),
	{ "tx_queue_woken", VNET_BLK_WOKEN, 0 },
	VNET_TX("tx_busy", busy),
	VNET_ATOMIC("tx_timeouts", tx_timeouts),
	VNET_RX("xdp_packets", xdp_packets),
	VNET_RX("xdp_pass", xdp_pass),
	VNET_RX("xdp_drop", xdp_drop),
	VNET_RX("xdp_tx", xdp_tx),
	VNET_RX("xdp_redirect", xdp_redirect),
	VNET_RX("xdp_aborted", xdp_aborted),
	VNET_RX("xdp_tx_errors", xdp_tx_errors),
	VNET_RX("xdp_redirect_errors", xdp_redirect_errors),
	VNET_TX("xdp_xmit", xdp_xmit),
	VNET_TX("xdp_xmit_errors", xdp_xmit_errors),
	VNET_ATOMIC("backend_tx_read", be_stats.tx_read),
	VNET_ATOMIC("backend_rx_written", be_stats.rx_written),
	VNET_ATOMIC("backend_rx_ring_full", be_stats.rx_ring_full),
	VNET_ATOMIC("backend_tx_too_big", be_stats.tx_too_big),
	VNET_ATOMIC("backend_tx_stalls", be_stats.tx_stalls),
	{ "rx_purged", VNET_BLK_QUEUE, offsetof(struct vnet_queue, rx_purged) },
};

/*
 * Then, for each queue pair, its own counters, named as
 * virtio_net names them: rx0_packets, tx0_packets, ...  The same figures as
 * netlink's qstats-get for that queue (but rx packets, which count here also
 * the frames lost before the stack saw them, as the device's rx_packets do).
 */
struct vnet_queue_stat_desc {
	char dir[3];			/* "rx" or "tx" */
	char name[ETH_GSTRING_LEN - 8];	/* after "rxNN_" */
	u32 offset;			/* in struct vnet_queue_counts */
};

#define VNET_QSTAT(dir, name, field) \
	{ dir, name, offsetof(struct vnet_queue_counts, field) }

static const struct vnet_queue_stat_desc vnet_queue_stats[] = {
	VNET_QSTAT("rx", "packets", rx_packets),
	VNET_QSTAT("rx", "bytes", rx_bytes),
	VNET_QSTAT("rx", "dropped", rx_dropped),
	VNET_QSTAT("rx", "ring_full", rx_missed),
	VNET_QSTAT("rx", "alloc_failed", rx_alloc_failed),
	VNET_QSTAT("rx", "napi_polls", napi_polls),
	VNET_QSTAT("tx", "packets", tx_packets),
	VNET_QSTAT("tx", "bytes", tx_bytes),
	VNET_QSTAT("tx", "dropped", tx_dropped),
	VNET_QSTAT("tx", "queue_stopped", tx_stopped),
	VNET_QSTAT("tx", "queue_woken", tx_woken),
};

/*
 * Every queue pair the device has, running or not: the list keeps its length
 * across ethtool -L (ethtool asks for the names and the values in separate
 * calls), and a queue that stopped running keeps showing its history.
 */
static unsigned int vnet_stats_count(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);

	return ARRAY_SIZE(vnet_stats) + priv->max_queues * ARRAY_SIZE(vnet_queue_stats);
}

static void vnet_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	strscpy(info->driver, VNET_DRV_NAME, sizeof(info->driver));
	strscpy(info->bus_info, "virtual", sizeof(info->bus_info));
}

static int vnet_get_sset_count(struct net_device *dev, int sset)
{
	switch (sset) {
	case ETH_SS_STATS:
		return vnet_stats_count(dev);
	case ETH_SS_TEST:
		return vnet_selftest_count();
	default:
		return -EOPNOTSUPP;
	}
}

static void vnet_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	unsigned int i;

	if (sset == ETH_SS_TEST) {
		vnet_selftest_strings(data);
		return;
	}
	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < ARRAY_SIZE(vnet_stats); i++)
		ethtool_sprintf(&data, "%s", vnet_stats[i].name);
	for (unsigned int qi = 0; qi < ((struct vnet_priv *)netdev_priv(dev))->max_queues; qi++)
		for (i = 0; i < ARRAY_SIZE(vnet_queue_stats); i++)
			ethtool_sprintf(&data, "%s%u_%s", vnet_queue_stats[i].dir, qi,
					vnet_queue_stats[i].name);
}

/*
 * Every counter of the table in BLOCK, from STATS (that block of struct
 * vnet_priv) into D at the line's index.  Called inside the block's
 * vnet_read_stats(), so that counters written together agree.
 */
static void vnet_fill_block(const void *stats, enum vnet_stat_block block, u64 *d)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vnet_stats); i++)
		if (vnet_stats[i].block == block)
			d[i] = u64_stats_read(stats + vnet_stats[i].offset);
}

/* Add queue pair Q's share of the device's counters into D. */
static void vnet_add_queue(struct vnet_queue *q, u64 *d)
{
	u64 one[ARRAY_SIZE(vnet_stats)] = {};
	u64 woken_by_xmit, woken_by_completion;
	unsigned int i;

	/* Each block into ONE first: a reader that retries must not add twice. */
	vnet_read_stats(&q->tx_stats,
			vnet_fill_block(&q->tx_stats, VNET_BLK_TX, one),
			woken_by_xmit = u64_stats_read(&q->tx_stats.queue_woken));
	vnet_read_stats(&q->txc_stats,
			vnet_fill_block(&q->txc_stats, VNET_BLK_TXC, one),
			woken_by_completion = u64_stats_read(&q->txc_stats.queue_woken));
	vnet_read_stats(&q->rx_stats, vnet_fill_block(&q->rx_stats, VNET_BLK_RX, one));
	vnet_read_stats(&q->gen_stats, vnet_fill_block(&q->gen_stats, VNET_BLK_GEN, one));
	for (i = 0; i < ARRAY_SIZE(vnet_stats); i++) {
		const struct vnet_stat_desc *s = &vnet_stats[i];

		if (s->block == VNET_BLK_WOKEN)
			one[i] = woken_by_xmit + woken_by_completion;
		else if (s->block == VNET_BLK_QUEUE)
			one[i] = atomic64_read((void *)q + s->offset);
		d[i] += one[i];
	}
}

static void vnet_get_ethtool_stats(struct net_device *dev,
				   struct ethtool_stats *stats, u64 *d)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct rtnl_link_stats64 link = {};
	u64 *per_queue = d + ARRAY_SIZE(vnet_stats);
	unsigned int i;

	memset(d, 0, sizeof(*d) * ARRAY_SIZE(vnet_stats));
	/* The device's counters: every queue pair's, also of those not running now. */
	for (i = 0; i < priv->max_queues; i++)
		vnet_add_queue(priv->queue[i], d);
	/* The interface counters exactly as ip -s link shows them. */
	vnet_get_stats64(dev, &link);
	for (i = 0; i < ARRAY_SIZE(vnet_stats); i++) {
		const struct vnet_stat_desc *s = &vnet_stats[i];

		if (s->block == VNET_BLK_LINK)
			d[i] = *(u64 *)((void *)&link + s->offset);
		else if (s->block == VNET_BLK_ATOMIC)
			d[i] = atomic64_read((void *)priv + s->offset);
	}
	/* Then each queue pair's own. */
	for (unsigned int qi = 0; qi < priv->max_queues; qi++) {
		struct vnet_queue_counts c;

		vnet_queue_read_counts(priv->queue[qi], &c);
		for (i = 0; i < ARRAY_SIZE(vnet_queue_stats); i++)
			*per_queue++ = *(u64 *)((void *)&c + vnet_queue_stats[i].offset);
	}
}

static void vnet_get_ringparam(struct net_device *dev,
			       struct ethtool_ringparam *ring,
			       struct kernel_ethtool_ringparam *kring,
			       struct netlink_ext_ack *extack)
{
	struct vnet_priv *priv = netdev_priv(dev);

	ring->rx_max_pending = VNET_RING_MAX;
	ring->tx_max_pending = VNET_RING_MAX;
	ring->rx_pending = priv->rx_ring_size;
	ring->tx_pending = priv->tx_ring_size;
}

static int vnet_check_ring(u32 size, struct netlink_ext_ack *extack)
{
	if (size < VNET_RING_MIN || !is_power_of_2(size)) {
		NL_SET_ERR_MSG_MOD(extack, "ring sizes must be powers of two from "
				   __stringify(VNET_RING_MIN) " to "
				   __stringify(VNET_RING_MAX));
		return -EINVAL;
	}
	return 0;
}

static int vnet_set_ringparam(struct net_device *dev,
			      struct ethtool_ringparam *ring,
			      struct kernel_ethtool_ringparam *kring,
			      struct netlink_ext_ack *extack)
{
	struct vnet_priv *priv = netdev_priv(dev);
	int err;

	/* The core already refused sizes above the maxima and the mini/jumbo rings. */
	err = vnet_check_ring(ring->tx_pending, extack);
	if (!err)
		err = vnet_check_ring(ring->rx_pending, extack);
	if (err)
		return err;
	if (ring->tx_pending == priv->tx_ring_size &&
	    ring->rx_pending == priv->rx_ring_size)
		return 0;
	return vnet_reconfigure(dev, ring->tx_pending, ring->rx_pending, dev->mtu);
}

/*
 * ethtool -l/-L: channels.  A channel is an interrupt with the queues it
 * serves; each of ours is one TX and one RX queue with their NAPIs, a
 * "combined" channel, as on virtio_net and netdevsim.  The maximum is the
 * queue pairs the device was made with (alloc_netdev_mqs); one runs at first.
 */
static void vnet_get_channels(struct net_device *dev,
			      struct ethtool_channels *ch)
{
	struct vnet_priv *priv = netdev_priv(dev);

	/*
	 * The maximum is what the hardware behind the rings can serve: the
	 * simulated NIC every queue pair the device was made with, a /dev/vnet
	 * file one (and the bind asked for one running).  So while a backend
	 * is bound, ethtool -L above 1 gets the core's own extack message.
	 */
	ch->max_combined = rtnl_dereference(priv->be) ? 1 : priv->max_queues;
	ch->combined_count = priv->num_queues;
}

/*
 * The core refuses counts above the maxima (so any RX-only or TX-only
 * channel: their maxima are 0), and zero, with an extack message, and
 * returns early when nothing changes.  What reaches us is a new number of
 * queue pairs, built before the swap (vnet_set_num_queues()).
 */
static int vnet_set_channels(struct net_device *dev,
			     struct ethtool_channels *ch)
{
	return vnet_set_num_queues(dev, ch->combined_count);
}

static int vnet_get_coalesce(struct net_device *dev,
			     struct ethtool_coalesce *ec,
			     struct kernel_ethtool_coalesce *kec,
			     struct netlink_ext_ack *extack)
{
	struct vnet_priv *priv = netdev_priv(dev);

	ec->tx_coalesce_usecs = priv->tx_usecs;
	ec->rx_coalesce_usecs = priv->rx_usecs;
	return 0;
}

static int vnet_set_coalesce(struct net_device *dev,
			     struct ethtool_coalesce *ec,
			     struct kernel_ethtool_coalesce *kec,
			     struct netlink_ext_ack *extack)
{
	struct vnet_priv *priv = netdev_priv(dev);

	if (ec->tx_coalesce_usecs > VNET_TX_USECS_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "tx-usecs must be at most "
				   __stringify(VNET_TX_USECS_MAX));
		return -EINVAL;
	}
	if (ec->rx_coalesce_usecs > VNET_RX_USECS_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "rx-usecs must be at most "
				   __stringify(VNET_RX_USECS_MAX));
		return -EINVAL;
	}
	/* Applies to frames posted from now on: each descriptor keeps its due time. */
	WRITE_ONCE(priv->tx_usecs, ec->tx_coalesce_usecs);
	/* The delay of the backend's next RX interrupt (the generator has its bursts). */
	WRITE_ONCE(priv->rx_usecs, ec->rx_coalesce_usecs);
	return 0;
}

/*
 * Link settings (`ethtool vnet0`, `ethtool -s`).  The simulated NIC has one
 * copper port that runs at these BASE-T speeds, as many server NICs do.  No
 * PHY sits at the far end to negotiate with, so autonegotiation is off and
 * the speed and duplex are set by hand, as on virtio_net.  They are what the
 * NIC reports, not a pace it keeps: frames take tx-usecs to send at any speed.
 */
struct vnet_link_mode {
	u32 speed;
	u8 duplex;
	u8 bit;			/* enum ethtool_link_mode_bit_indices */
};

static const struct vnet_link_mode vnet_link_modes[] = {
	{ SPEED_10, DUPLEX_HALF, ETHTOOL_LINK_MODE_10baseT_Half_BIT },
	{ SPEED_10, DUPLEX_FULL, ETHTOOL_LINK_MODE_10baseT_Full_BIT },
	{ SPEED_100, DUPLEX_HALF, ETHTOOL_LINK_MODE_100baseT_Half_BIT },
	{ SPEED_100, DUPLEX_FULL, ETHTOOL_LINK_MODE_100baseT_Full_BIT },
	{ SPEED_1000, DUPLEX_FULL, ETHTOOL_LINK_MODE_1000baseT_Full_BIT },
	{ SPEED_10000, DUPLEX_FULL, ETHTOOL_LINK_MODE_10000baseT_Full_BIT },
};

static bool vnet_link_mode_supported(u32 speed, u8 duplex)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(vnet_link_modes); i++)
		if (vnet_link_modes[i].speed == speed &&
		    vnet_link_modes[i].duplex == duplex)
			return true;
	return false;
}

/* Called with RTNL held, as the setter is: the two fields need no more. */
static int vnet_get_link_ksettings(struct net_device *dev,
				   struct ethtool_link_ksettings *cmd)
{
	struct vnet_priv *priv = netdev_priv(dev);

	ethtool_link_ksettings_zero_link_mode(cmd, supported);
	ethtool_link_ksettings_zero_link_mode(cmd, advertising);
	for (unsigned int i = 0; i < ARRAY_SIZE(vnet_link_modes); i++)
		linkmode_set_bit(vnet_link_modes[i].bit, cmd->link_modes.supported);
	ethtool_link_ksettings_add_link_mode(cmd, supported, TP);
	cmd->base.port = PORT_TP;
	cmd->base.autoneg = AUTONEG_DISABLE;
	/* As a real NIC reports it: no link, no speed. */
	if (netif_carrier_ok(dev)) {
		cmd->base.speed = priv->link_speed;
		cmd->base.duplex = priv->link_duplex;
	} else {
		cmd->base.speed = SPEED_UNKNOWN;
		cmd->base.duplex = DUPLEX_UNKNOWN;
	}
	return 0;
}

/*
 * ethtool -s vnet0 speed S duplex D: only the modes the port has.  The core
 * passes the whole settings, as the getter gave them with the user's changes
 * applied, so anything else a user changed (autoneg, the port, advertised
 * modes, the PHY address, MDI-X) is refused here rather than silently
 * ignored.  Without a link the getter says "unknown": a request that leaves
 * the speed or the duplex unknown keeps the one set before.
 */
static int vnet_set_link_ksettings(struct net_device *dev,
				   const struct ethtool_link_ksettings *cmd)
{
	struct vnet_priv *priv = netdev_priv(dev);
	u32 speed = cmd->base.speed;
	u8 duplex = cmd->base.duplex;

	if (speed == SPEED_UNKNOWN)
		speed = priv->link_speed;
	if (duplex == DUPLEX_UNKNOWN)
		duplex = priv->link_duplex;
	if (cmd->base.autoneg != AUTONEG_DISABLE || cmd->base.port != PORT_TP ||
	    cmd->base.phy_address || cmd->base.eth_tp_mdix_ctrl != ETH_TP_MDI_INVALID ||
	    !linkmode_empty(cmd->link_modes.advertising) ||
	    !vnet_link_mode_supported(speed, duplex))
		return -EINVAL;
	if (speed == priv->link_speed && duplex == priv->link_duplex)
		return 0;
	priv->link_speed = speed;
	priv->link_duplex = duplex;
	/* Bonding and bridges read the speed on NETDEV_CHANGE (path costs). */
	if (netif_running(dev))
		netdev_state_change(dev);
	return 0;
}

/*
 * ethtool -d: the "registers" of the simulated NIC, as a NIC's driver copies
 * them out of its BAR (vnet_uapi.h has the map).  The core holds RTNL, under
 * which the rings are swapped and the hardware switched, so neither changes
 * here; the indexes move under us, and the dump is one moment's view, as a
 * real NIC's is.  Each ring's followers are read before its producer, with
 * acquire loads that pair with their writers' release stores: so a tail or a
 * doorbell is never ahead of the head read after it: head - tail and
 * head - doorbell are never negative (they may briefly exceed the ring's
 * size, when the other side moved between the two reads).
 */
static int vnet_get_regs_len(struct net_device *dev)
{
	return VNET_REG_NUM * sizeof(u32);
}

static void vnet_get_regs(struct net_device *dev, struct ethtool_regs *regs, void *p)
{
	struct vnet_priv *priv = netdev_priv(dev);
	/* The registers of queue pair 0 (the layout has one of each). */
	struct vnet_queue *q = priv->queue[0];
	const struct vnet_hw_ops *hw = READ_ONCE(priv->hw);
	u32 *reg = p;
	u32 irq = 0;

	regs->version = VNET_REGS_VERSION;
	reg[VNET_REG_TX_SIZE] = READ_ONCE(q->tx.size);
	reg[VNET_REG_TX_TAIL] = smp_load_acquire(&q->tx.tail);
	reg[VNET_REG_TX_SENT] = smp_load_acquire(&q->tx.sent);
	reg[VNET_REG_TX_DOORBELL] = smp_load_acquire(&q->tx.doorbell);
	reg[VNET_REG_TX_HEAD] = smp_load_acquire(&q->tx.head);
	reg[VNET_REG_RX_SIZE] = READ_ONCE(q->rx.size);
	reg[VNET_REG_RX_TAIL] = smp_load_acquire(&q->rx.tail);
	reg[VNET_REG_RX_HEAD] = smp_load_acquire(&q->rx.head);
	/*
	 * A device that is down has no NAPI (the state left in the struct is
	 * stale), and a disabled one keeps its SCHED bit set: the bits mean
	 * "scheduled" only on a running device.
	 */
	if (netif_running(dev)) {
		if (hrtimer_active(&q->tx_timer))
			irq |= VNET_IRQ_TX_PENDING;
		if (hw->rx_irq_pending(q))
			irq |= VNET_IRQ_RX_PENDING;
		if (test_bit(NAPI_STATE_SCHED, &q->tx_napi.state))
			irq |= VNET_IRQ_TX_NAPI;
		if (test_bit(NAPI_STATE_SCHED, &q->rx_napi.state))
			irq |= VNET_IRQ_RX_NAPI;
		if (netif_tx_queue_stopped(netdev_get_tx_queue(dev, 0)))
			irq |= VNET_IRQ_TX_STOPPED;
	}
	reg[VNET_REG_IRQ] = irq;
	reg[VNET_REG_HW] = hw == &vnet_backend_hw;
	reg[VNET_REG_TX_USECS] = READ_ONCE(priv->tx_usecs);
	reg[VNET_REG_RX_USECS] = READ_ONCE(priv->rx_usecs);
}

const struct ethtool_ops vnet_ethtool_ops = {
	/* Only these two: the core refuses every other coalescing field. */
	.supported_coalesce_params = ETHTOOL_COALESCE_TX_USECS | ETHTOOL_COALESCE_RX_USECS,
	.get_drvinfo		= vnet_get_drvinfo,
	.get_regs_len		= vnet_get_regs_len,
	.get_regs		= vnet_get_regs,
	.get_link		= ethtool_op_get_link,
	.get_sset_count		= vnet_get_sset_count,
	.get_strings		= vnet_get_strings,
	.get_ethtool_stats	= vnet_get_ethtool_stats,
	.get_ringparam		= vnet_get_ringparam,
	.set_ringparam		= vnet_set_ringparam,
	.get_channels		= vnet_get_channels,
	.set_channels		= vnet_set_channels,
	.get_rxfh_key_size	= vnet_get_rxfh_key_size,
	.get_rxfh_indir_size	= vnet_get_rxfh_indir_size,
	.get_rxfh		= vnet_get_rxfh,
	.set_rxfh		= vnet_set_rxfh,
	.get_rxnfc		= vnet_get_rxnfc,
#ifdef VNET_HAVE_RXFH_FIELDS_OP
	.get_rxfh_fields	= vnet_get_rxfh_fields,
#endif
#ifdef VNET_HAVE_RX_RING_COUNT_OP
	.get_rx_ring_count	= vnet_get_rx_ring_count,
#endif
	.get_coalesce		= vnet_get_coalesce,
	.set_coalesce		= vnet_set_coalesce,
	.get_ts_info		= ethtool_op_get_ts_info,
	.self_test		= vnet_self_test,
	.get_link_ksettings	= vnet_get_link_ksettings,
	.set_link_ksettings	= vnet_set_link_ksettings,
};
