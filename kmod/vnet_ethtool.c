// SPDX-License-Identifier: GPL-2.0
/*
 * ethtool: driver info, link, ring sizes (-g/-G), TX completion delay (-c/-C)
 * and the driver's statistics (-S).
 */
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/log2.h>
#include "vnet.h"

/*
 * ethtool -S: one table, one line per counter.  A counter lives in one of
 * the blocks of struct vnet_priv (vnet.h), each with a single writer; the
 * line says which block and where in it, and its name.  Adding a counter is
 * its field in vnet.h and its line here.  The order of the lines is the
 * order ethtool prints.
 */
enum vnet_stat_block {
	VNET_BLK_LINK,		/* struct rtnl_link_stats64, as ip -s link shows it */
	VNET_BLK_TX,		/* priv->tx_stats: written at xmit */
	VNET_BLK_TXC,		/* priv->txc_stats: written at TX completion */
	VNET_BLK_RX,		/* priv->rx_stats: written in the NAPI poll */
	VNET_BLK_GEN,		/* priv->gen_stats: written by the generator timer */
	VNET_BLK_ATOMIC,	/* an atomic64_t of struct vnet_priv: several writers */
	VNET_BLK_WOKEN,		/* the queue's wakes: xmit's and the completion's */
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
	VNET_ATOMIC("rx_purged", rx_purged),
};

static void vnet_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	strscpy(info->driver, VNET_DRV_NAME, sizeof(info->driver));
	strscpy(info->bus_info, "virtual", sizeof(info->bus_info));
}

static int vnet_get_sset_count(struct net_device *dev, int sset)
{
	return sset == ETH_SS_STATS ? ARRAY_SIZE(vnet_stats) : -EOPNOTSUPP;
}

static void vnet_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	unsigned int i;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < ARRAY_SIZE(vnet_stats); i++)
		memcpy(data + i * ETH_GSTRING_LEN, vnet_stats[i].name, ETH_GSTRING_LEN);
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

static void vnet_get_ethtool_stats(struct net_device *dev,
				   struct ethtool_stats *stats, u64 *d)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct rtnl_link_stats64 link = {};
	u64 woken_by_xmit, woken_by_completion;
	unsigned int i;

	/* The interface counters exactly as ip -s link shows them. */
	vnet_get_stats64(dev, &link);
	vnet_read_stats(&priv->tx_stats,
			vnet_fill_block(&priv->tx_stats, VNET_BLK_TX, d),
			woken_by_xmit = u64_stats_read(&priv->tx_stats.queue_woken));
	vnet_read_stats(&priv->txc_stats,
			vnet_fill_block(&priv->txc_stats, VNET_BLK_TXC, d),
			woken_by_completion = u64_stats_read(&priv->txc_stats.queue_woken));
	vnet_read_stats(&priv->rx_stats, vnet_fill_block(&priv->rx_stats, VNET_BLK_RX, d));
	vnet_read_stats(&priv->gen_stats, vnet_fill_block(&priv->gen_stats, VNET_BLK_GEN, d));

	for (i = 0; i < ARRAY_SIZE(vnet_stats); i++) {
		const struct vnet_stat_desc *s = &vnet_stats[i];

		if (s->block == VNET_BLK_LINK)
			d[i] = *(u64 *)((void *)&link + s->offset);
		else if (s->block == VNET_BLK_ATOMIC)
			d[i] = atomic64_read((void *)priv + s->offset);
		else if (s->block == VNET_BLK_WOKEN)
			d[i] = woken_by_xmit + woken_by_completion;
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

const struct ethtool_ops vnet_ethtool_ops = {
	/* Only these two: the core refuses every other coalescing field. */
	.supported_coalesce_params = ETHTOOL_COALESCE_TX_USECS | ETHTOOL_COALESCE_RX_USECS,
	.get_drvinfo		= vnet_get_drvinfo,
	.get_link		= ethtool_op_get_link,
	.get_sset_count		= vnet_get_sset_count,
	.get_strings		= vnet_get_strings,
	.get_ethtool_stats	= vnet_get_ethtool_stats,
	.get_ringparam		= vnet_get_ringparam,
	.set_ringparam		= vnet_set_ringparam,
	.get_coalesce		= vnet_get_coalesce,
	.set_coalesce		= vnet_set_coalesce,
	.get_ts_info		= ethtool_op_get_ts_info,
};
