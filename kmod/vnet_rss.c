// SPDX-License-Identifier: GPL-2.0
/*
 * RSS (receive-side scaling): how the simulated NIC chooses the RX queue of
 * each frame, as a multiqueue NIC does in hardware.
 *
 * For a TCP or UDP frame the NIC hashes the source and destination address,
 * then the source and destination port, with the Toeplitz hash under a
 * 40-byte secret key.  The low bits of the hash index a table of 128 queue
 * numbers, the indirection table: that entry is the frame's queue.  So every
 * frame of one flow lands on one queue (and one CPU), in order, while many
 * flows spread over every queue.  A frame the NIC cannot hash (ARP) goes to
 * queue 0.  The hash also travels with the frame, in skb->hash, so the stack
 * does not compute it again (RPS, RFS, the socket's flow tables).
 *
 * `ethtool -x` shows the key and the table, `ethtool -X` sets them, and
 * `ethtool -n DEV rx-flow-hash tcp4` shows the fields hashed.  The core
 * checks what it can first: a key of the wrong length, a table of the wrong
 * size or one that names a queue that is not running, and, at `ethtool -L`,
 * a count of queues too small for a table the user set.  A table the user
 * never set follows the queue count: -L spreads it over the new queues.
 *
 * The key and the table are read by the generator in its timer (softirq)
 * and written by ethtool under RTNL, so a spinlock keeps each frame's hash
 * and lookup whole: a frame never sees half of an old key.
 */
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include "vnet.h"

/* The hash reads 32 key bits past each input byte: the key covers the longest input. */
static_assert(VNET_FLOW_RSS_INPUT_MAX + 4 <= VNET_RSS_KEY_SIZE);

/*
 * The Toeplitz hash of DATA (LEN bytes) under KEY (at least LEN + 4 bytes).
 * Each input bit, from the first byte's highest bit on, that is set adds
 * (XOR) the 32 bits of the key that start at the same bit position.  WINDOW
 * holds those 32 key bits and slides along the key one bit per input bit.
 */
u32 vnet_toeplitz(const u8 *key, const u8 *data, unsigned int len)
{
	u32 window = (u32)key[0] << 24 | key[1] << 16 | key[2] << 8 | key[3];
	u32 hash = 0;

	for (unsigned int i = 0; i < len; i++) {
		u8 next = key[i + 4];	/* the key byte that slides in next */

		for (int bit = 7; bit >= 0; bit--) {
			if (data[i] & BIT(bit))
				hash ^= window;
			window = (window << 1) | ((next >> bit) & 1);
		}
	}
	return hash;
}

/*
 * At creation: a random key, and every entry on queue 0 (one queue runs).
 * The key is the device's own, not the one the kernel shares among NICs
 * (netdev_rss_key_fill): anyone may make a vnet device and read its key, and
 * with the host NICs' key they could aim every flow at one of their queues.
 */
void vnet_rss_init(struct vnet_priv *priv)
{
	spin_lock_init(&priv->rss.lock);
	get_random_bytes(priv->rss.key, sizeof(priv->rss.key));
	memset(priv->rss.indir, 0, sizeof(priv->rss.indir));
}

/*
 * At ethtool -L (RTNL), before the generator runs again: a table the user
 * never set spreads over the queues now running; one the user set stays,
 * and the core has checked it names none of the queues gone.
 */
void vnet_rss_queues_changed(struct vnet_priv *priv, unsigned int nq)
{
	if (netif_is_rxfh_configured(priv->dev))
		return;
	spin_lock_bh(&priv->rss.lock);
	for (unsigned int i = 0; i < VNET_RSS_INDIR_SIZE; i++)
		priv->rss.indir[i] = ethtool_rxfh_indir_default(i, nq);
	spin_unlock_bh(&priv->rss.lock);
}

/*
 * The hash of INPUT (a flow's addresses and ports) and the queue the table
 * gives it, one of the NQ running.  The generator's timer; NQ is stable
 * there.  No entry names a queue beyond NQ (see above and vnet_rss_set()),
 * but a queue that is not running has no ring: queue 0 rather than a crash.
 */
unsigned int vnet_rss_steer(struct vnet_priv *priv, const u8 *input,
			    unsigned int len, unsigned int nq, u32 *hash)
{
	unsigned int qi;

	spin_lock(&priv->rss.lock);
	*hash = vnet_toeplitz(priv->rss.key, input, len);
	/* LESSON 12 TODO: the queue is the table's entry at the hash modulo the table's size */
	qi = priv->rss.indir[*hash % VNET_RSS_INDIR_SIZE];
	/* LESSON 12 SKELETON: qi = 0; */
	/* LESSON 12 END */
	spin_unlock(&priv->rss.lock);
	return qi < nq ? qi : 0;
}

/* ---- ethtool -x / -X / -n ------------------------------------------------ */

u32 vnet_get_rxfh_key_size(struct net_device *dev)
{
	return VNET_RSS_KEY_SIZE;
}

u32 vnet_get_rxfh_indir_size(struct net_device *dev)
{
	return VNET_RSS_INDIR_SIZE;
}

/* The RX rings that can be named in the table: the queue pairs running. */
u32 vnet_get_rx_ring_count(struct net_device *dev)
{
	struct vnet_priv *priv = netdev_priv(dev);

	return READ_ONCE(priv->num_queues);
}

/* ethtool -x: copy out the table and the key, either of which may not be asked for. */
static void vnet_rss_get(struct vnet_priv *priv, u32 *indir, u8 *key)
{
	spin_lock_bh(&priv->rss.lock);
	if (indir)
		memcpy(indir, priv->rss.indir, sizeof(priv->rss.indir));
	if (key)
		memcpy(key, priv->rss.key, sizeof(priv->rss.key));
	spin_unlock_bh(&priv->rss.lock);
}

/*
 * ethtool -X: a new table, a new key, or both (NULL: unchanged).  The core
 * has checked their sizes and that every entry names a running queue; the
 * entries are checked again here, as a NIC's firmware would, because a
 * wrong one would steer frames to a queue with no ring.  Only Toeplitz is
 * in this NIC.
 */
static int vnet_rss_set(struct vnet_priv *priv, const u32 *indir, const u8 *key,
			u8 hfunc, struct netlink_ext_ack *extack)
{
	unsigned int nq = priv->num_queues;

	if (hfunc != ETH_RSS_HASH_NO_CHANGE && hfunc != ETH_RSS_HASH_TOP) {
		NL_SET_ERR_MSG_MOD(extack, "the only hash function is toeplitz");
		return -EOPNOTSUPP;
	}
	for (unsigned int i = 0; indir && i < VNET_RSS_INDIR_SIZE; i++) {
		if (indir[i] >= nq) {
			NL_SET_ERR_MSG_MOD(extack, "the table names a queue that is not running");
			return -EINVAL;
		}
	}
	spin_lock_bh(&priv->rss.lock);
	if (indir)
		memcpy(priv->rss.indir, indir, sizeof(priv->rss.indir));
	if (key)
		memcpy(priv->rss.key, key, sizeof(priv->rss.key));
	spin_unlock_bh(&priv->rss.lock);
	return 0;
}

#ifdef VNET_HAVE_RXFH_PARAM
int vnet_get_rxfh(struct net_device *dev, struct ethtool_rxfh_param *rxfh)
{
	rxfh->hfunc = ETH_RSS_HASH_TOP;
	vnet_rss_get(netdev_priv(dev), rxfh->indir, rxfh->key);
	return 0;
}

int vnet_set_rxfh(struct net_device *dev, struct ethtool_rxfh_param *rxfh,
		  struct netlink_ext_ack *extack)
{
	/* No RSS contexts: the one table is context 0 (the core refuses others too). */
	if (rxfh->rss_context) {
		NL_SET_ERR_MSG_MOD(extack, "no RSS contexts but the default one");
		return -EOPNOTSUPP;
	}
	return vnet_rss_set(netdev_priv(dev), rxfh->indir, rxfh->key,
			    rxfh->hfunc, extack);
}
#else
int vnet_get_rxfh(struct net_device *dev, u32 *indir, u8 *key, u8 *hfunc)
{
	if (hfunc)
		*hfunc = ETH_RSS_HASH_TOP;
	vnet_rss_get(netdev_priv(dev), indir, key);
	return 0;
}

int vnet_set_rxfh(struct net_device *dev, const u32 *indir, const u8 *key,
		  const u8 hfunc)
{
	return vnet_rss_set(netdev_priv(dev), indir, key, hfunc, NULL);
}
#endif

/*
 * ethtool -n DEV rx-flow-hash TYPE: the fields hashed.  TCP and UDP over
 * IPv4 and IPv6: both addresses and both ports.  Nothing else is hashed.
 */
static u64 vnet_rss_fields(u32 flow_type)
{
	switch (flow_type) {
	case TCP_V4_FLOW:
	case UDP_V4_FLOW:
	case TCP_V6_FLOW:
	case UDP_V6_FLOW:
		return RXH_IP_SRC | RXH_IP_DST | RXH_L4_B_0_1 | RXH_L4_B_2_3;
	default:
		return 0;
	}
}

#ifdef VNET_HAVE_RXFH_FIELDS_OP
int vnet_get_rxfh_fields(struct net_device *dev, struct ethtool_rxfh_fields *f)
{
	f->data = vnet_rss_fields(f->flow_type);
	return 0;
}
#endif

/* Before the kernel asked for them with ops of their own: ring count and fields. */
int vnet_get_rxnfc(struct net_device *dev, struct ethtool_rxnfc *info,
		   u32 *rule_locs)
{
	switch (info->cmd) {
#ifndef VNET_HAVE_RX_RING_COUNT_OP
	case ETHTOOL_GRXRINGS:
		info->data = vnet_get_rx_ring_count(dev);
		return 0;
#endif
#ifndef VNET_HAVE_RXFH_FIELDS_OP
	case ETHTOOL_GRXFH:
		info->data = vnet_rss_fields(info->flow_type);
		return 0;
#endif
	default:
		return -EOPNOTSUPP;
	}
}
