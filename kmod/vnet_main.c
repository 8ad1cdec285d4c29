// SPDX-License-Identifier: GPL-2.0
/*
 * vnet: a virtual Ethernet NIC for learning and tracing driver internals.
 *
 * This is the pipeline-proving skeleton: one net_device named vnet0 whose
 * transmit path frees what it is given.  The rings, NAPI, statistics and
 * ethtool arrive with the full driver.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/module.h>
#include <linux/netdevice.h>

#define DRV_NAME "vnet"

static struct net_device *vnet_dev;

static int vnet_open(struct net_device *dev)
{
	netif_carrier_on(dev);
	netif_start_queue(dev);
	return 0;
}

static int vnet_stop(struct net_device *dev)
{
	netif_stop_queue(dev);
	netif_carrier_off(dev);
	return 0;
}

/* Kept out of line: it is a probe point for the tracer (docs/probe-points.md). */
static noinline netdev_tx_t vnet_start_xmit(struct sk_buff *skb,
					     struct net_device *dev)
{
	dev->stats.tx_packets++;
	dev->stats.tx_bytes += skb->len;
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops vnet_netdev_ops = {
	.ndo_open		= vnet_open,
	.ndo_stop		= vnet_stop,
	.ndo_start_xmit		= vnet_start_xmit,
	.ndo_set_mac_address	= eth_mac_addr,
	.ndo_validate_addr	= eth_validate_addr,
};

static void vnet_get_drvinfo(struct net_device *dev,
			     struct ethtool_drvinfo *info)
{
	strscpy(info->driver, DRV_NAME, sizeof(info->driver));
	strscpy(info->bus_info, "virtual", sizeof(info->bus_info));
}

static const struct ethtool_ops vnet_ethtool_ops = {
	.get_drvinfo	= vnet_get_drvinfo,
	.get_link	= ethtool_op_get_link,
};

static void vnet_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &vnet_netdev_ops;
	dev->ethtool_ops = &vnet_ethtool_ops;
	dev->priv_flags |= IFF_LIVE_ADDR_CHANGE;
	/* Locally administered, random per device: no two instances collide. */
	eth_hw_addr_random(dev);
}

static int __init vnet_init(void)
{
	int err;

	vnet_dev = alloc_netdev(0, "vnet%d", NET_NAME_ENUM, vnet_setup);
	if (!vnet_dev)
		return -ENOMEM;
	err = register_netdev(vnet_dev);
	if (err) {
		free_netdev(vnet_dev);
		return err;
	}
	netif_carrier_off(vnet_dev);
	pr_info("%s registered, MAC %pM\n", vnet_dev->name, vnet_dev->dev_addr);
	return 0;
}

static void __exit vnet_exit(void)
{
	unregister_netdev(vnet_dev);
	free_netdev(vnet_dev);
}

module_init(vnet_init);
module_exit(vnet_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Virtual Ethernet NIC for learning and tracing driver internals");
