// SPDX-License-Identifier: GPL-2.0
/*
 * The RX generator's knobs: what each device's "NIC" receives.
 *
 * Every device has its own, in a sysfs group on the net device, as bonding
 * and bridge keep theirs:
 *
 *   /sys/class/net/DEV/vnet/rx_rate    frames per second, 0 = off
 *   /sys/class/net/DEV/vnet/rx_burst   frames per generator tick
 *   /sys/class/net/DEV/vnet/peer_mac   sender MAC of the ARP requests
 *   /sys/class/net/DEV/vnet/peer_ip    sender IPv4 of the ARP requests
 *
 * The module parameters of the same names are the values a new device starts
 * with.  Both go through the same parsers: a bad value is -EINVAL and changes
 * nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/inet.h>
#include <linux/moduleparam.h>
#include <linux/netdevice.h>
#include "vnet.h"

#define VNET_RX_RATE_MAX	10000000u
#define VNET_RX_BURST_MAX	1024u

/* ---- parsers, shared by the module parameters and the device attributes -- */

static int vnet_parse_uint(const char *val, u32 min, u32 max, u32 *out)
{
	u32 v;
	int err = kstrtou32(val, 0, &v);

	if (err)
		return err;
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int vnet_parse_rate(const char *val, u32 *out)
{
	return vnet_parse_uint(val, 0, VNET_RX_RATE_MAX, out);
}

static int vnet_parse_burst(const char *val, u32 *out)
{
	return vnet_parse_uint(val, 1, VNET_RX_BURST_MAX, out);
}

/*
 * A unicast, non-zero MAC (mac_pton() wants exactly "xx:xx:xx:xx:xx:xx"), into
 * MAC only when valid: mac_pton() writes as it goes.
 */
static int vnet_parse_mac(const char *val, u8 *mac)
{
	u8 parsed[ETH_ALEN] __aligned(2);

	if (!mac_pton(val, parsed) || !is_valid_ether_addr(parsed))
		return -EINVAL;
	/* Nothing but an optional newline after the 17 characters. */
	if (val[17] && strcmp(val + 17, "\n"))
		return -EINVAL;
	ether_addr_copy(mac, parsed);
	return 0;
}

/* A dotted quad a host may use as its own address. */
static int vnet_parse_ip(const char *val, __be32 *ip)
{
	const char *end;
	__be32 addr;

	if (!in4_pton(val, -1, (u8 *)&addr, '\n', &end) ||
	    (*end && strcmp(end, "\n")))
		return -EINVAL;
	if (ipv4_is_multicast(addr) || ipv4_is_lbcast(addr) || ipv4_is_zeronet(addr))
		return -EINVAL;
	*ip = addr;
	return 0;
}

/* ---- module parameters: the defaults of new devices -------------------- */

/* Written under the module's kernel_param_lock, read under it in vnet_gen_init(). */
static u32 def_rate;
static u32 def_burst = 1;
static u8 def_peer_mac[ETH_ALEN] __aligned(2) = { 0x02, 0x76, 0x6e, 0x65, 0x74, 0x02 };
static __be32 def_peer_ip = cpu_to_be32(0x0a000002);	/* 10.0.0.2 */

static int vnet_param_set_rate(const char *val, const struct kernel_param *kp)
{
	return vnet_parse_rate(val, &def_rate);
}

static int vnet_param_set_burst(const char *val, const struct kernel_param *kp)
{
	return vnet_parse_burst(val, &def_burst);
}

static int vnet_param_set_mac(const char *val, const struct kernel_param *kp)
{
	return vnet_parse_mac(val, def_peer_mac);
}

static int vnet_param_get_mac(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%pM\n", def_peer_mac);
}

static int vnet_param_set_ip(const char *val, const struct kernel_param *kp)
{
	return vnet_parse_ip(val, &def_peer_ip);
}

static int vnet_param_get_ip(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%pI4\n", &def_peer_ip);
}

static const struct kernel_param_ops vnet_rate_ops = {
	.set = vnet_param_set_rate,
	.get = param_get_uint,
};

static const struct kernel_param_ops vnet_burst_ops = {
	.set = vnet_param_set_burst,
	.get = param_get_uint,
};

static const struct kernel_param_ops vnet_mac_ops = {
	.set = vnet_param_set_mac,
	.get = vnet_param_get_mac,
};

static const struct kernel_param_ops vnet_ip_ops = {
	.set = vnet_param_set_ip,
	.get = vnet_param_get_ip,
};

module_param_cb(rx_rate, &vnet_rate_ops, &def_rate, 0644);
MODULE_PARM_DESC(rx_rate, "Default for new devices: generated ARP frames per second, 0 = off (max 10000000)");
module_param_cb(rx_burst, &vnet_burst_ops, &def_burst, 0644);
MODULE_PARM_DESC(rx_burst, "Default for new devices: frames per generator tick, i.e. per RX interrupt (1-1024)");
module_param_cb(peer_mac, &vnet_mac_ops, NULL, 0644);
MODULE_PARM_DESC(peer_mac, "Default for new devices: sender MAC of generated ARP requests (02:76:6e:65:74:02)");
module_param_cb(peer_ip, &vnet_ip_ops, NULL, 0644);
MODULE_PARM_DESC(peer_ip, "Default for new devices: sender IPv4 of generated ARP requests (10.0.0.2)");

/* A new device takes the defaults as they are now (process context). */
void vnet_gen_init(struct vnet_priv *priv)
{
	struct vnet_gen_cfg *g = &priv->gen;

	seqlock_init(&g->peer_lock);
	kernel_param_lock(THIS_MODULE);
	g->rate = def_rate;
	g->burst = def_burst;
	ether_addr_copy(g->peer_mac, def_peer_mac);
	g->peer_ip = def_peer_ip;
	kernel_param_unlock(THIS_MODULE);
}

/* The peer as one consistent pair (any context). */
void vnet_gen_peer(struct vnet_priv *priv, u8 *mac, __be32 *ip)
{
	struct vnet_gen_cfg *g = &priv->gen;
	unsigned int seq;

	do {
		seq = read_seqbegin(&g->peer_lock);
		ether_addr_copy(mac, g->peer_mac);
		*ip = g->peer_ip;
	} while (read_seqretry(&g->peer_lock, seq));
}

/* ---- /sys/class/net/DEV/vnet/ ------------------------------------------ */

static struct vnet_gen_cfg *vnet_gen_of(struct device *d)
{
	return &((struct vnet_priv *)netdev_priv(to_net_dev(d)))->gen;
}

/* As net-sysfs does for the device's own attributes: admin of its netns. */
static bool vnet_gen_may_write(struct device *d)
{
	return ns_capable(dev_net(to_net_dev(d))->user_ns, CAP_NET_ADMIN);
}

/* rx_rate and rx_burst: one word each, read by the generator with READ_ONCE(). */
#define VNET_UINT_KNOB(name, field, parse)					\
static ssize_t name##_show(struct device *d, struct device_attribute *attr,	\
			   char *buf)						\
{										\
	return sysfs_emit(buf, "%u\n", READ_ONCE(vnet_gen_of(d)->field));	\
}										\
static ssize_t name##_store(struct device *d, struct device_attribute *attr,	\
			    const char *buf, size_t len)			\
{										\
	u32 v;									\
	int err;								\
										\
	if (!vnet_gen_may_write(d))						\
		return -EPERM;							\
	err = parse(buf, &v);							\
	if (err)								\
		return err;							\
	WRITE_ONCE(vnet_gen_of(d)->field, v);					\
	return len;								\
}										\
static DEVICE_ATTR_RW(name)

VNET_UINT_KNOB(rx_rate, rate, vnet_parse_rate);
VNET_UINT_KNOB(rx_burst, burst, vnet_parse_burst);

static ssize_t peer_mac_show(struct device *d, struct device_attribute *attr, char *buf)
{
	u8 mac[ETH_ALEN] __aligned(2);
	__be32 ip;

	vnet_gen_peer(netdev_priv(to_net_dev(d)), mac, &ip);
	return sysfs_emit(buf, "%pM\n", mac);
}

static ssize_t peer_mac_store(struct device *d, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	struct vnet_gen_cfg *g = vnet_gen_of(d);
	u8 mac[ETH_ALEN] __aligned(2);
	int err;

	if (!vnet_gen_may_write(d))
		return -EPERM;
	err = vnet_parse_mac(buf, mac);
	if (err)
		return err;
	/* _bh: the generator (a softirq) must not run here while the sequence is odd. */
	write_seqlock_bh(&g->peer_lock);
	ether_addr_copy(g->peer_mac, mac);
	write_sequnlock_bh(&g->peer_lock);
	return len;
}
static DEVICE_ATTR_RW(peer_mac);

static ssize_t peer_ip_show(struct device *d, struct device_attribute *attr, char *buf)
{
	u8 mac[ETH_ALEN] __aligned(2);
	__be32 ip;

	vnet_gen_peer(netdev_priv(to_net_dev(d)), mac, &ip);
	return sysfs_emit(buf, "%pI4\n", &ip);
}

static ssize_t peer_ip_store(struct device *d, struct device_attribute *attr,
			     const char *buf, size_t len)
{
	struct vnet_gen_cfg *g = vnet_gen_of(d);
	__be32 ip;
	int err;

	if (!vnet_gen_may_write(d))
		return -EPERM;
	err = vnet_parse_ip(buf, &ip);
	if (err)
		return err;
	write_seqlock_bh(&g->peer_lock);
	g->peer_ip = ip;
	write_sequnlock_bh(&g->peer_lock);
	return len;
}
static DEVICE_ATTR_RW(peer_ip);

static struct attribute *vnet_gen_attrs[] = {
	&dev_attr_rx_rate.attr,
	&dev_attr_rx_burst.attr,
	&dev_attr_peer_mac.attr,
	&dev_attr_peer_ip.attr,
	NULL,
};

/* Set as the device's own sysfs group before it registers: the core adds and removes it. */
const struct attribute_group vnet_gen_group = {
	.name = "vnet",
	.attrs = vnet_gen_attrs,
};
