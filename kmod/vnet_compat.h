/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnet_compat.h - every difference between the kernels vnet supports, in one
 * place, keyed on LINUX_VERSION_CODE.
 *
 * Supported: Debian 12's 6.1, Debian 13's 6.12 and the newest Debian kernel
 * (trixie-backports, 7.x).  The rule: the driver calls a vnet_ wrapper that
 * maps onto the newest kernel's API, and onto the older API (or nothing, where
 * the older kernel has no such interface) before the version that changed it.
 * The wrappers have names of their own so that a distribution kernel that
 * backports an API cannot collide with them.  So the data paths never test a
 * version.  Each shim names the kernel version that changed the API.
 *
 * Features an older kernel lacks entirely are announced with VNET_HAVE_*
 * macros; docs/kernels.md is the support table that lists them.
 *
 * Also read by BCC (bpf/), so: macros and static inlines only.
 */
#ifndef VNET_COMPAT_H
#define VNET_COMPAT_H

#include <linux/version.h>
#include <linux/hrtimer.h>
#include <linux/netdevice.h>

#define VNET_KERNEL_AT_LEAST(a, b) (LINUX_VERSION_CODE >= KERNEL_VERSION(a, b, 0))

/*
 * 6.10: __assign_str() takes only the destination; __string() already
 * recorded the source.
 */
#if VNET_KERNEL_AT_LEAST(6, 10)
#define vnet_assign_str(dst, src)	__assign_str(dst)
#else
#define vnet_assign_str(dst, src)	__assign_str(dst, src)
#endif

#ifndef VNET_BPF
#include <net/xdp.h>

/*
 * 6.13: hrtimer_setup() sets the callback with the clock and mode;
 * hrtimer_init() is gone from 7.x.
 */
static inline void vnet_hrtimer_setup(struct hrtimer *timer,
				      enum hrtimer_restart (*fn)(struct hrtimer *),
				      clockid_t clock_id, enum hrtimer_mode mode)
{
#if VNET_KERNEL_AT_LEAST(6, 13)
	hrtimer_setup(timer, fn, clock_id, mode);
#else
	hrtimer_init(timer, clock_id, mode);
	timer->function = fn;
#endif
}

/*
 * mac_pton(): declared in <linux/kernel.h> on 6.1, later split out into
 * <linux/hex.h>, which kernel.h no longer includes in 7.x.  The header's
 * presence is the test: the version it appeared in does not matter.
 */
#if __has_include(<linux/hex.h>)
#include <linux/hex.h>
#else
#include <linux/kernel.h>
#endif

/* 6.6: <net/page_pool.h> was split into page_pool/{types,helpers}.h. */
#if VNET_KERNEL_AT_LEAST(6, 6)
#include <net/page_pool/helpers.h>
#else
#include <net/page_pool.h>
#endif

/*
 * A page pool reports itself through netdev netlink (page-pool-get) when it
 * knows its device (6.8), and from 6.5 a page freed in the NAPI that is the
 * pool's only consumer goes straight back into the pool's lockless cache
 * (before, through its ptr_ring).
 */
static inline void vnet_pp_params_bind(struct page_pool_params *pp,
				       struct net_device *dev,
				       struct napi_struct *napi)
{
#if VNET_KERNEL_AT_LEAST(6, 5)
	pp->napi = napi;
#endif
#if VNET_KERNEL_AT_LEAST(6, 8)
	pp->netdev = dev;
#endif
}

/* 6.3: the netdev netlink family reports a device's XDP features (dev-get). */
#if VNET_KERNEL_AT_LEAST(6, 3)
#define VNET_XDP_FEATURES \
	(NETDEV_XDP_ACT_BASIC | NETDEV_XDP_ACT_REDIRECT | NETDEV_XDP_ACT_NDO_XMIT)
static inline void vnet_set_xdp_features(struct net_device *dev)
{
	xdp_set_features_flag(dev, VNET_XDP_FEATURES);
}
#else
static inline void vnet_set_xdp_features(struct net_device *dev) { }
#endif

/*
 * 6.8: a queue is linked to the NAPI instance that serves it (netlink
 * queue-get / napi-get), RX and TX.  Older kernels have nothing to link.
 */
static inline void vnet_set_queue_napis(struct net_device *dev, unsigned int idx,
					struct napi_struct *rx, struct napi_struct *tx)
{
#if VNET_KERNEL_AT_LEAST(6, 8)
	netif_queue_set_napi(dev, idx, NETDEV_QUEUE_TYPE_RX, rx);
	netif_queue_set_napi(dev, idx, NETDEV_QUEUE_TYPE_TX, tx);
#endif
}

/*
 * 6.13: netif_napi_add_config() gives the NAPI a persistent slot in the
 * device, so its napi-set settings and its id survive down/up.
 */
static inline void vnet_napi_add(struct net_device *dev, struct napi_struct *napi,
				 int (*poll)(struct napi_struct *, int), unsigned int idx)
{
#if VNET_KERNEL_AT_LEAST(6, 17)
	netif_napi_add_config_locked(dev, napi, poll, idx);
#elif VNET_KERNEL_AT_LEAST(6, 13)
	netif_napi_add_config(dev, napi, poll, idx);
#else
	netif_napi_add(dev, napi, poll);
#endif
}

/*
 * 6.17: turning threaded NAPI off (/sys/class/net/DEV/threaded) waits, with
 * the device's instance lock (netdev_lock) held, until each NAPI of the
 * device is idle, and a NAPI that is listed but disabled never is.  So the
 * driver holds that lock across every stretch in which one of its NAPIs is
 * listed and disabled (open, stop, a rebuild, a switch of hardware): the
 * wait begins only once each NAPI is enabled or gone.  Inside, the NAPI
 * calls are the _locked ones, which expect the lock held.  Before 6.17 the
 * write does not wait, and the NAPI calls take what they need themselves.
 * The core holds no such lock around our ndos: vnet has no request_ops_lock,
 * queue_mgmt_ops or shaper ops.  A driver with one of those gets the lock
 * from the core instead, and taking it here would deadlock.
 */
#if VNET_KERNEL_AT_LEAST(6, 17)
static inline void vnet_napi_lock(struct net_device *dev)
{
	netdev_lock(dev);
}

static inline void vnet_napi_unlock(struct net_device *dev)
{
	netdev_unlock(dev);
}

static inline void vnet_napi_add_tx(struct net_device *dev, struct napi_struct *napi,
				    int (*poll)(struct napi_struct *, int))
{
	/* What netif_napi_add_tx() does, with the lock held: no busy polling. */
	set_bit(NAPI_STATE_NO_BUSY_POLL, &napi->state);
	netif_napi_add_weight_locked(dev, napi, poll, NAPI_POLL_WEIGHT);
}

static inline void vnet_napi_enable(struct napi_struct *napi)
{
	napi_enable_locked(napi);
}

static inline void vnet_napi_disable(struct napi_struct *napi)
{
	napi_disable_locked(napi);
}

static inline void vnet_napi_del(struct napi_struct *napi)
{
	__netif_napi_del_locked(napi);
}
#else
static inline void vnet_napi_lock(struct net_device *dev)
{
}

static inline void vnet_napi_unlock(struct net_device *dev)
{
}

static inline void vnet_napi_add_tx(struct net_device *dev, struct napi_struct *napi,
				    int (*poll)(struct napi_struct *, int))
{
	netif_napi_add_tx(dev, napi, poll);
}

static inline void vnet_napi_enable(struct napi_struct *napi)
{
	napi_enable(napi);
}

static inline void vnet_napi_disable(struct napi_struct *napi)
{
	napi_disable(napi);
}

static inline void vnet_napi_del(struct napi_struct *napi)
{
	__netif_napi_del(napi);
}
#endif

/*
 * 6.9: per-queue statistics (netdev_stat_ops, netlink qstats-get) with
 * packets, bytes and alloc_fail; 6.10 added the drop counters and tx
 * stop/wake.
 */
#if VNET_KERNEL_AT_LEAST(6, 9)
#define VNET_HAVE_QSTATS	1
#include <net/netdev_queues.h>

static inline void vnet_qstats_rx_missed(struct netdev_queue_stats_rx *rx,
					 u64 missed)
{
#if VNET_KERNEL_AT_LEAST(6, 10)
	rx->hw_drops = missed;
	rx->hw_drop_overruns = missed;
#endif
}

static inline void vnet_qstats_tx_stop_wake(struct netdev_queue_stats_tx *tx,
					    u64 stopped, u64 woken)
{
#if VNET_KERNEL_AT_LEAST(6, 10)
	tx->stop = stopped;
	tx->wake = woken;
#endif
}
#endif

/*
 * RSS in ethtool (vnet_rss.c).  6.8: get_rxfh and set_rxfh take one struct
 * ethtool_rxfh_param (and set_rxfh an extack) in place of the table, key
 * and hash function as arguments.  6.17: the fields hashed (ethtool -n
 * rx-flow-hash) have an op of their own, get_rxfh_fields, no longer a
 * command of get_rxnfc.  6.18: so has the RX ring count (get_rx_ring_count);
 * the core asked get_rxnfc (ETHTOOL_GRXRINGS) as well until 7.0, and 7.x
 * asks no other op for it.
 */
#if VNET_KERNEL_AT_LEAST(6, 8)
#define VNET_HAVE_RXFH_PARAM	1
#endif
#if VNET_KERNEL_AT_LEAST(6, 17)
#define VNET_HAVE_RXFH_FIELDS_OP	1
#endif
#if VNET_KERNEL_AT_LEAST(6, 18)
#define VNET_HAVE_RX_RING_COUNT_OP	1
#endif

#endif /* !VNET_BPF */
#endif /* VNET_COMPAT_H */
