// SPDX-License-Identifier: GPL-2.0
/*
 * ethtool: driver info, link, ring sizes (-g/-G), TX completion delay (-c/-C)
 * and the driver's statistics (-S).
 */
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/log2.h>
#include "vnet.h"

/* ethtool -S: one index per counter, so names and values cannot get out of order. */
enum vnet_stat {
	VNET_TX_PACKETS, VNET_TX_BYTES, VNET_TX_DROPPED,
	VNET_RX_PACKETS, VNET_RX_BYTES, VNET_RX_DROPPED, VNET_RX_LENGTH_ERRORS,
	VNET_TX_ARP, VNET_TX_IPV4, VNET_TX_IPV6, VNET_TX_OTHER,
	VNET_RX_ARP, VNET_RX_IPV4, VNET_RX_IPV6, VNET_RX_OTHER,
	VNET_NAPI_POLLS, VNET_NAPI_BUDGET_EXHAUSTED,
	VNET_ARP_GENERATED, VNET_RX_RING_FULL, VNET_RX_ALLOC_FAILED,
	VNET_TX_COMPLETIONS, VNET_TX_COMPLETION_RUNS, VNET_TX_PURGED,
	VNET_TX_QUEUE_STOPPED, VNET_TX_QUEUE_WOKEN, VNET_TX_BUSY,
	VNET_TX_TIMEOUTS,
	VNET_XDP_PACKETS, VNET_XDP_PASS, VNET_XDP_DROP, VNET_XDP_TX,
	VNET_XDP_REDIRECT, VNET_XDP_ABORTED, VNET_XDP_TX_ERRORS,
	VNET_XDP_REDIRECT_ERRORS, VNET_XDP_XMIT, VNET_XDP_XMIT_ERRORS,
	VNET_BE_TX_READ, VNET_BE_RX_WRITTEN, VNET_BE_RX_RING_FULL, VNET_BE_TX_TOO_BIG,
	VNET_BE_TX_STALLS,
	VNET_RX_PURGED,
	VNET_NUM_STATS
};

static const char vnet_stat_names[VNET_NUM_STATS][ETH_GSTRING_LEN] = {
	[VNET_TX_PACKETS] = "tx_packets",
	[VNET_TX_BYTES] = "tx_bytes",
	[VNET_TX_DROPPED] = "tx_dropped",
	[VNET_RX_PACKETS] = "rx_packets",
	[VNET_RX_BYTES] = "rx_bytes",
	[VNET_RX_DROPPED] = "rx_dropped",
	[VNET_RX_LENGTH_ERRORS] = "rx_length_errors",
	[VNET_TX_ARP] = "tx_arp",
	[VNET_TX_IPV4] = "tx_ipv4",
	[VNET_TX_IPV6] = "tx_ipv6",
	[VNET_TX_OTHER] = "tx_other",
	[VNET_RX_ARP] = "rx_arp",
	[VNET_RX_IPV4] = "rx_ipv4",
	[VNET_RX_IPV6] = "rx_ipv6",
	[VNET_RX_OTHER] = "rx_other",
	[VNET_NAPI_POLLS] = "napi_polls",
	[VNET_NAPI_BUDGET_EXHAUSTED] = "napi_budget_exhausted",
	[VNET_ARP_GENERATED] = "arp_generated",
	[VNET_RX_RING_FULL] = "rx_ring_full",
	[VNET_RX_ALLOC_FAILED] = "rx_alloc_failed",
	[VNET_TX_COMPLETIONS] = "tx_completions",
	[VNET_TX_COMPLETION_RUNS] = "tx_completion_runs",
	[VNET_TX_PURGED] = "tx_purged",
	[VNET_TX_QUEUE_STOPPED] = "tx_queue_stopped",
	[VNET_TX_QUEUE_WOKEN] = "tx_queue_woken",
	[VNET_TX_BUSY] = "tx_busy",
	[VNET_TX_TIMEOUTS] = "tx_timeouts",
	[VNET_XDP_PACKETS] = "xdp_packets",
	[VNET_XDP_PASS] = "xdp_pass",
	[VNET_XDP_DROP] = "xdp_drop",
	[VNET_XDP_TX] = "xdp_tx",
	[VNET_XDP_REDIRECT] = "xdp_redirect",
	[VNET_XDP_ABORTED] = "xdp_aborted",
	[VNET_XDP_TX_ERRORS] = "xdp_tx_errors",
	[VNET_XDP_REDIRECT_ERRORS] = "xdp_redirect_errors",
	[VNET_XDP_XMIT] = "xdp_xmit",
	[VNET_XDP_XMIT_ERRORS] = "xdp_xmit_errors",
	[VNET_BE_TX_READ] = "backend_tx_read",
	[VNET_BE_RX_WRITTEN] = "backend_rx_written",
	[VNET_BE_RX_RING_FULL] = "backend_rx_ring_full",
	[VNET_BE_TX_TOO_BIG] = "backend_tx_too_big",
	[VNET_BE_TX_STALLS] = "backend_tx_stalls",
	[VNET_RX_PURGED] = "rx_purged",
};

static void vnet_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	strscpy(info->driver, VNET_DRV_NAME, sizeof(info->driver));
	strscpy(info->bus_info, "virtual", sizeof(info->bus_info));
}

static int vnet_get_sset_count(struct net_device *dev, int sset)
{
	return sset == ETH_SS_STATS ? VNET_NUM_STATS : -EOPNOTSUPP;
}

static void vnet_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	if (sset == ETH_SS_STATS)
		memcpy(data, vnet_stat_names, sizeof(vnet_stat_names));
}

static void vnet_get_ethtool_stats(struct net_device *dev,
				   struct ethtool_stats *stats, u64 *d)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct vnet_tx_stats *t = &priv->tx_stats;
	struct vnet_txc_stats *c = &priv->txc_stats;
	struct vnet_rx_stats *r = &priv->rx_stats;
	struct vnet_gen_stats *g = &priv->gen_stats;
	struct rtnl_link_stats64 s = {};
	u64 woken_by_xmit, woken_by_completion;
	unsigned int start;

	/* The interface counters exactly as ip -s link shows them. */
	vnet_get_stats64(dev, &s);
	d[VNET_TX_PACKETS] = s.tx_packets;
	d[VNET_TX_BYTES] = s.tx_bytes;
	d[VNET_TX_DROPPED] = s.tx_dropped;
	d[VNET_RX_PACKETS] = s.rx_packets;
	d[VNET_RX_BYTES] = s.rx_bytes;
	d[VNET_RX_DROPPED] = s.rx_dropped;
	d[VNET_RX_LENGTH_ERRORS] = s.rx_length_errors;

	do {
		start = u64_stats_fetch_begin(&t->syncp);
		d[VNET_TX_ARP] = u64_stats_read(&t->proto.arp);
		d[VNET_TX_IPV4] = u64_stats_read(&t->proto.ipv4);
		d[VNET_TX_IPV6] = u64_stats_read(&t->proto.ipv6);
		d[VNET_TX_OTHER] = u64_stats_read(&t->proto.other);
		d[VNET_TX_QUEUE_STOPPED] = u64_stats_read(&t->queue_stopped);
		woken_by_xmit = u64_stats_read(&t->queue_woken);
		d[VNET_TX_BUSY] = u64_stats_read(&t->busy);
		d[VNET_XDP_XMIT] = u64_stats_read(&t->xdp_xmit);
		d[VNET_XDP_XMIT_ERRORS] = u64_stats_read(&t->xdp_xmit_errors);
	} while (u64_stats_fetch_retry(&t->syncp, start));

	do {
		start = u64_stats_fetch_begin(&c->syncp);
		d[VNET_TX_COMPLETIONS] = u64_stats_read(&c->completions);
		d[VNET_TX_COMPLETION_RUNS] = u64_stats_read(&c->completion_runs);
		d[VNET_TX_PURGED] = u64_stats_read(&c->purged);
		woken_by_completion = u64_stats_read(&c->queue_woken);
	} while (u64_stats_fetch_retry(&c->syncp, start));
	d[VNET_TX_QUEUE_WOKEN] = woken_by_xmit + woken_by_completion;

	do {
		start = u64_stats_fetch_begin(&r->syncp);
		d[VNET_RX_ARP] = u64_stats_read(&r->proto.arp);
		d[VNET_RX_IPV4] = u64_stats_read(&r->proto.ipv4);
		d[VNET_RX_IPV6] = u64_stats_read(&r->proto.ipv6);
		d[VNET_RX_OTHER] = u64_stats_read(&r->proto.other);
		d[VNET_NAPI_POLLS] = u64_stats_read(&r->napi_polls);
		d[VNET_NAPI_BUDGET_EXHAUSTED] = u64_stats_read(&r->napi_budget_exhausted);
		d[VNET_RX_ALLOC_FAILED] = u64_stats_read(&r->alloc_failed);
		d[VNET_XDP_PACKETS] = u64_stats_read(&r->xdp_packets);
		d[VNET_XDP_PASS] = u64_stats_read(&r->xdp_pass);
		d[VNET_XDP_DROP] = u64_stats_read(&r->xdp_drop);
		d[VNET_XDP_TX] = u64_stats_read(&r->xdp_tx);
		d[VNET_XDP_REDIRECT] = u64_stats_read(&r->xdp_redirect);
		d[VNET_XDP_ABORTED] = u64_stats_read(&r->xdp_aborted);
		d[VNET_XDP_TX_ERRORS] = u64_stats_read(&r->xdp_tx_errors);
		d[VNET_XDP_REDIRECT_ERRORS] = u64_stats_read(&r->xdp_redirect_errors);
	} while (u64_stats_fetch_retry(&r->syncp, start));

	do {
		start = u64_stats_fetch_begin(&g->syncp);
		d[VNET_ARP_GENERATED] = u64_stats_read(&g->arp_generated);
		d[VNET_RX_RING_FULL] = u64_stats_read(&g->ring_full);
	} while (u64_stats_fetch_retry(&g->syncp, start));

	d[VNET_TX_TIMEOUTS] = atomic64_read(&priv->tx_timeouts);
	d[VNET_BE_TX_READ] = atomic64_read(&priv->be_stats.tx_read);
	d[VNET_BE_RX_WRITTEN] = atomic64_read(&priv->be_stats.rx_written);
	d[VNET_BE_RX_RING_FULL] = atomic64_read(&priv->be_stats.rx_ring_full);
	d[VNET_BE_TX_TOO_BIG] = atomic64_read(&priv->be_stats.tx_too_big);
	d[VNET_BE_TX_STALLS] = atomic64_read(&priv->be_stats.tx_stalls);
	d[VNET_RX_PURGED] = atomic64_read(&priv->rx_purged);
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
