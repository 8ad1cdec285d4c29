// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated hardware: what vnet0 is a NIC of when no process is bound to
 * /dev/vnet (vnet_backend.c is the other hardware; both are struct
 * vnet_hw_ops, and the rings and NAPI do not know which one runs).
 *
 *  - RX: a generator of frames, a soft hrtimer playing the NIC that writes
 *    frames into the RX ring.  Every tick it writes rx_burst frames, then
 *    raises the "RX interrupt" (napi_schedule).  By default the frames are
 *    ARP requests from a peer (peer_mac, peer_ip) asking for the device's
 *    IPv4 address; rx_proto switches to UDP or TCP flows from the same peer
 *    (vnet_flows.c).  When the ring is full the frame is not written and is
 *    counted (rx_ring_full), as a NIC counts missed frames.  So on an idle
 *    system every poll sees rx_burst frames: NAPI batching becomes visible.
 *    Because the stack answers the requests, RX also produces TX.
 *  - TX: a frame is sent tx-usecs (ethtool -C) after it was posted; the
 *    doorbell arms the TX-done interrupt for then (vnet_tx.c).
 *
 * The generator's knobs are per device, in a sysfs group on the net device,
 * as bonding and bridge keep theirs:
 *
 *   /sys/class/net/DEV/vnet/rx_rate    frames per second, 0 = off
 *   /sys/class/net/DEV/vnet/rx_burst   frames per generator tick
 *   /sys/class/net/DEV/vnet/peer_mac   sender MAC of the frames
 *   /sys/class/net/DEV/vnet/peer_ip    sender IPv4 of the frames
 *   /sys/class/net/DEV/vnet/rx_proto   what it sends: arp, udp4, tcp4, udp6, tcp6
 *   /sys/class/net/DEV/vnet/rx_flows   UDP/TCP: how many flows (1-256)
 *   /sys/class/net/DEV/vnet/rx_size    UDP/TCP: frame length (60-9014), or imix
 *   /sys/class/net/DEV/vnet/hw         which hardware runs: simulated, backend
 *
 * The module parameters of the same names (all but the last four) are the
 * values a new device starts with.  Both go through the same parsers: a bad
 * value is -EINVAL and changes nothing.  A new device sends ARP, one flow of
 * 60-byte frames when switched to UDP or TCP; a frame longer than the MTU
 * allows is cut to fit.  rx_size shows what was asked for, before that cut.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/inet.h>
#include <linux/inetdevice.h>
#include <linux/moduleparam.h>
#include <linux/user_namespace.h>
#include <linux/netdevice.h>
#include <net/net_namespace.h>
#include "vnet.h"
#include "vnet_trace.h"

#define VNET_RX_RATE_MAX	10000000u
#define VNET_RX_BURST_MAX	1024u
/* rx_size: Ethernet's minimum to the largest jumbo frame (VNET_MAX_MTU), no FCS. */
#define VNET_RX_SIZE_MIN	ETH_ZLEN
#define VNET_RX_SIZE_MAX	(ETH_HLEN + VNET_MAX_MTU)

/*
 * The bounds of a device whose network namespace belongs to a user namespace
 * other than the initial one: one any local user can make with `unshare -Urn`.
 * The frames the generator makes cost softirq time that nobody is charged
 * for, unlike the frames a process sends, which cost it its own CPU time.
 * So there the generator is a trickle: enough to watch NAPI, ARP and the
 * flows at work, not enough to load the machine (docs/architecture.md, who may create vnet
 * devices).
 */
#define VNET_RX_RATE_USERNS	1000u
#define VNET_RX_BURST_USERNS	64u
/* And a frame there is at most a standard one: the cost of a frame grows with it. */
#define VNET_RX_SIZE_USERNS	1514u	/* ETH_HLEN + ETH_DATA_LEN */

/* ---- parsers, shared by the module parameters and the device attributes -- */

static int vnet_parse_uint(const char *val, u32 min, u32 max, u32 *out)
{
	u32 v;

	/* Not a number, or one beyond 32 bits (-ERANGE): a bad value all the same. */
	if (kstrtou32(val, 0, &v))
		return -EINVAL;
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

/* The names of enum vnet_gen_proto, as rx_proto reads and shows them. */
static const char * const vnet_proto_names[VNET_GEN_PROTO_NUM] = {
	[VNET_GEN_ARP]	= "arp",
	[VNET_GEN_UDP4]	= "udp4",
	[VNET_GEN_TCP4]	= "tcp4",
	[VNET_GEN_UDP6]	= "udp6",
	[VNET_GEN_TCP6]	= "tcp6",
};

static int vnet_parse_proto(const char *val, u32 *out)
{
	/* sysfs_match_string() ignores one trailing newline, as echo writes. */
	int i = sysfs_match_string(vnet_proto_names, val);

	if (i < 0)
		return -EINVAL;
	*out = i;
	return 0;
}

static int vnet_parse_flows(const char *val, u32 *out)
{
	return vnet_parse_uint(val, 1, VNET_GEN_FLOWS_MAX, out);
}

static int vnet_parse_size(const char *val, u32 *out)
{
	if (sysfs_streq(val, "imix")) {
		*out = VNET_GEN_SIZE_IMIX;
		return 0;
	}
	return vnet_parse_uint(val, VNET_RX_SIZE_MIN, VNET_RX_SIZE_MAX, out);
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
MODULE_PARM_DESC(rx_rate, "Default for new devices: generated frames per second, 0 = off (max 10000000)");
module_param_cb(rx_burst, &vnet_burst_ops, &def_burst, 0644);
MODULE_PARM_DESC(rx_burst, "Default for new devices: frames per generator tick, i.e. per RX interrupt (1-1024)");
module_param_cb(peer_mac, &vnet_mac_ops, NULL, 0644);
MODULE_PARM_DESC(peer_mac, "Default for new devices: sender MAC of generated frames (02:76:6e:65:74:02)");
module_param_cb(peer_ip, &vnet_ip_ops, NULL, 0644);
MODULE_PARM_DESC(peer_ip, "Default for new devices: sender IPv4 of generated frames (10.0.0.2)");

/* A new device takes the defaults as they are now (process context). */
static void vnet_gen_init(struct vnet_priv *priv)
{
	struct vnet_gen_cfg *g = &priv->gen;

	seqlock_init(&g->peer_lock);
	kernel_param_lock(THIS_MODULE);
	g->rate = def_rate;
	g->burst = def_burst;
	g->proto = VNET_GEN_ARP;
	g->flows = 1;
	g->size = ETH_ZLEN;
	ether_addr_copy(g->peer_mac, def_peer_mac);
	g->peer_ip = def_peer_ip;
	kernel_param_unlock(THIS_MODULE);
}

/* The peer as one consistent pair (any context). */
static void vnet_gen_peer(struct vnet_priv *priv, u8 *mac, __be32 *ip)
{
	struct vnet_gen_cfg *g = &priv->gen;
	unsigned int seq;

	do {
		seq = read_seqbegin(&g->peer_lock);
		ether_addr_copy(mac, g->peer_mac);
		*ip = g->peer_ip;
	} while (read_seqretry(&g->peer_lock, seq));
}

/* With the generator off, look at its knobs this often. */
#define VNET_RX_IDLE_NS		(50 * NSEC_PER_MSEC)
/* What an injected runt frame (VNET_FAULT_RX_SHORT) is: shorter than a header. */
#define VNET_RX_RUNT_LEN	(ETH_HLEN - 4)

/* Asked for when the device has no IPv4 address of its own: 10.0.0.1. */
#define VNET_DEFAULT_TARGET_IP	htonl(0x0a000001)

/* ---- the generator ------------------------------------------------------- */

/*
 * The device lives in a netns that a user namespace other than the initial
 * one owns: any local user may have made it.  Also bounds ethtool -t's wait.
 */
bool vnet_gen_bounded(struct vnet_priv *priv)
{
	return dev_net(priv->dev)->user_ns != &init_user_ns;
}

/*
 * The rate and burst the generator runs at: the knobs, within the bounds of
 * the device's namespace.  Also what the knobs show, so that a device that
 * moved into such a namespace with a higher setting shows what it does.
 */
static u32 vnet_gen_rate(struct vnet_priv *priv)
{
	u32 rate = READ_ONCE(priv->gen.rate);

	return vnet_gen_bounded(priv) ? min(rate, VNET_RX_RATE_USERNS) : rate;
}

static u32 vnet_gen_burst(struct vnet_priv *priv)
{
	u32 burst = READ_ONCE(priv->gen.burst);

	return vnet_gen_bounded(priv) ? min(burst, VNET_RX_BURST_USERNS) : burst;
}

/*
 * The bound is also for all such devices together: a user can make as many
 * devices as they like, so a bound per device alone would bound nothing.
 * Every bounded device on the machine draws its frames from one budget of
 * VNET_RX_RATE_USERNS a second; a tick that finds it spent generates fewer
 * frames, or none, and its timer sleeps until the next second: so the ticks
 * of a spent budget cost one a second per device, not one a period.  Only
 * the generator's timer (softirq) takes the lock.
 */
static DEFINE_SPINLOCK(vnet_gen_shared_lock);
static u64 vnet_gen_shared_since;	/* start of the current second */
static u32 vnet_gen_shared_used;	/* frames granted in it */

/*
 * How many of BURST frames the device may make now.  *WAIT_NS: when the
 * budget is spent, the nanoseconds until it refills, else 0.
 */
static unsigned int vnet_gen_grant(struct vnet_priv *priv, unsigned int burst,
				   u64 *wait_ns)
{
	u64 now;

	*wait_ns = 0;
	if (!vnet_gen_bounded(priv))
		return burst;
	spin_lock(&vnet_gen_shared_lock);
	/* Read under the lock: a time read before it could move the window back. */
	now = ktime_get_ns();
	if (now - vnet_gen_shared_since >= NSEC_PER_SEC) {
		vnet_gen_shared_since = now;
		vnet_gen_shared_used = 0;
	}
	burst = min(burst, VNET_RX_RATE_USERNS - vnet_gen_shared_used);
	vnet_gen_shared_used += burst;
	if (vnet_gen_shared_used == VNET_RX_RATE_USERNS)
		*wait_ns = vnet_gen_shared_since + NSEC_PER_SEC - now;
	spin_unlock(&vnet_gen_shared_lock);
	return burst;
}

/*
 * Write one ARP request (who-has target_ip tell peer_ip) into FRAME, padded
 * with zeros to the Ethernet minimum, and return its length.
 *
 * Probe point (docs/probe-points.md): every argument a tracer needs to print
 * the frame is passed in, so a kprobe on entry sees it all.
 */
noinline u32 vnet_build_arp(struct net_device *dev, u8 *frame,
			    const u8 *peer_mac, __be32 peer_ip,
			    __be32 target_ip)
{
	struct ethhdr *eth = (struct ethhdr *)frame;
	struct arphdr *arp = (struct arphdr *)(eth + 1);
	u8 *p = (u8 *)(arp + 1);

	eth_broadcast_addr(eth->h_dest);
	ether_addr_copy(eth->h_source, peer_mac);
	eth->h_proto = htons(ETH_P_ARP);

	arp->ar_hrd = htons(ARPHRD_ETHER);
	arp->ar_pro = htons(ETH_P_IP);
	arp->ar_hln = ETH_ALEN;
	arp->ar_pln = 4;
	/* LESSON 8 TODO: a request, from the peer: ar_op, then the sender's MAC and IP */
	arp->ar_op = htons(ARPOP_REQUEST);

	ether_addr_copy(p, peer_mac);		/* sender hardware address */
	p += ETH_ALEN;
	memcpy(p, &peer_ip, 4);			/* sender protocol address */
	/* LESSON 8 SKELETON: arp->ar_op = 0; */
	/* LESSON 8 SKELETON: memset(p, 0, ETH_ALEN + 4); */
	/* LESSON 8 SKELETON: p += ETH_ALEN; */
	/* LESSON 8 END */
	p += 4;
	eth_zero_addr(p);			/* target hardware address: unknown */
	p += ETH_ALEN;
	memcpy(p, &target_ip, 4);		/* target protocol address */
	p += 4;

	memset(p, 0, VNET_ARP_FRAME_LEN - (p - frame));
	return VNET_ARP_FRAME_LEN;
}

static __be32 vnet_target_ip(struct net_device *dev)
{
	struct in_device *in_dev;
	const struct in_ifaddr *ifa;
	__be32 ip = VNET_DEFAULT_TARGET_IP;

	rcu_read_lock();
	in_dev = __in_dev_get_rcu(dev);
	if (in_dev) {
		ifa = rcu_dereference(in_dev->ifa_list);
		if (ifa)
			ip = ifa->ifa_local;
	}
	rcu_read_unlock();
	return ip;
}

/*
 * The RX queue a frame goes to, and the hash it carries.  The NIC hashes a
 * flow's addresses and ports, and its RSS table turns the hash into a queue
 * (vnet_rss.c).  A frame it cannot hash, as our ARP requests, goes to queue
 * 0 without a hash, as on most NICs.
 */
static struct vnet_queue *vnet_gen_queue(struct vnet_priv *priv, unsigned int nq,
					 enum vnet_gen_proto proto,
					 const struct vnet_flow_addrs *a, u32 flow, u32 *hash)
{
	u8 input[VNET_FLOW_RSS_INPUT_MAX];
	bool v6 = proto == VNET_GEN_UDP6 || proto == VNET_GEN_TCP6;
	unsigned int len;

	*hash = 0;
	if (proto == VNET_GEN_ARP)
		return priv->queue[0];
	len = vnet_flow_rss_input(a, v6, flow, input);
	return priv->queue[vnet_rss_steer(priv, input, len, nq, hash)];
}

/* What one tick did to one RX queue. */
struct vnet_gen_tick {
	u32 tail;			/* the poll's tail, read once */
	unsigned int made, missed, arps, flows;
};

/*
 * Produce up to BURST frames into the RX rings; raise the interrupt of each
 * queue that has frames waiting.  Returns how many frames were written.
 */
static unsigned int vnet_rx_generate(struct vnet_priv *priv, unsigned int burst)
{
	enum vnet_gen_proto proto = READ_ONCE(priv->gen.proto);
	/* Stable while the generator runs: ethtool -L stops it first. */
	unsigned int nq = READ_ONCE(priv->num_queues);
	struct vnet_gen_tick tick[VNET_QUEUES_MAX] = {};
	u8 peer_mac[ETH_ALEN] __aligned(2);
	__be32 peer_ip, target_ip = vnet_target_ip(priv->dev);
	unsigned int total = 0, i;
	/* The longest frame the MTU and the buffers (all of one order) allow. */
	u32 max_len = min_t(u32, ETH_HLEN + READ_ONCE(priv->dev->mtu),
			    VNET_RX_MAX_FRAME(priv->queue[0]->rx.order));
	struct vnet_flow_addrs addrs;

	/* Pairs with the release of tail in the poll: that slot's page is ours. */
	for (i = 0; i < nq; i++)
		tick[i].tail = smp_load_acquire(&priv->queue[i]->rx.tail);
	vnet_gen_peer(priv, peer_mac, &peer_ip);
	if (vnet_gen_bounded(priv))
		max_len = min(max_len, VNET_RX_SIZE_USERNS);
	if (proto != VNET_GEN_ARP)
		vnet_flow_addrs_get(priv, &addrs,
				    proto == VNET_GEN_UDP6 || proto == VNET_GEN_TCP6,
				    peer_mac, peer_ip, target_ip);
	for (unsigned int n = 0; n < burst; n++) {
		u32 flow = proto != VNET_GEN_ARP ? vnet_flow_take(priv) : 0, hash;
		struct vnet_queue *q = vnet_gen_queue(priv, nq, proto, &addrs, flow, &hash);
		struct vnet_gen_tick *t = &tick[q->index];
		struct vnet_rx_ring *r = &q->rx;
		struct vnet_rx_slot *s;
		u8 *frame;

		if (r->head + t->made - t->tail >= r->size) {
			/* The flow's turn is taken all the same: the next frame is the next flow's. */
			t->missed++;
			continue;
		}
		s = &r->slot[(r->head + t->made) & (r->size - 1)];
		t->made++;
		s->hash = hash;
		s->hash_type = PKT_HASH_TYPE_NONE;
		/* A broken "NIC" (fault injection): a frame too short to be Ethernet. */
		if (vnet_should_fail(VNET_FAULT_RX_SHORT)) {
			s->len = VNET_RX_RUNT_LEN;
			continue;
		}
		frame = page_address(s->page) + VNET_RX_HEADROOM;
		if (proto != VNET_GEN_ARP) {
			s->len = vnet_build_flow(priv, frame, max_len, proto, &addrs, flow);
			/* Every flow is TCP or UDP: a hash over its ports, an L4 hash. */
			s->hash_type = PKT_HASH_TYPE_L4;
			t->flows++;
			continue;
		}
		s->len = vnet_build_arp(priv->dev, frame, peer_mac, peer_ip, target_ip);
		trace_vnet_arp_generated(priv->dev, priv->dev->ifindex,
					 peer_mac, peer_ip, target_ip);
		t->arps++;
	}

	for (i = 0; i < nq; i++) {
		struct vnet_queue *q = priv->queue[i];
		struct vnet_gen_tick *t = &tick[i];
		struct vnet_gen_stats *st = &q->gen_stats;

		/* The frames are written before the poll can see the new head. */
		if (t->made)
			smp_store_release(&q->rx.head, q->rx.head + t->made);
		total += t->made;
		if (t->made || t->missed)
			vnet_stats_update(st, {
				u64_stats_add(&st->arp_generated, t->arps);
				if (proto == VNET_GEN_UDP4 || proto == VNET_GEN_UDP6)
					u64_stats_add(&st->udp_generated, t->flows);
				else if (proto != VNET_GEN_ARP)
					u64_stats_add(&st->tcp_generated, t->flows);
				u64_stats_add(&st->ring_full, t->missed);
			});
		/* LESSON 5 TODO: raise the RX interrupt of a queue with frames waiting: schedule its NAPI */
		/* The RX interrupt; also for a full ring, which only NAPI can drain. */
		if (vnet_rx_used(&q->rx))
			vnet_rx_irq_raise(q);
		/* LESSON 5 END */
	}
	return total;
}

static enum hrtimer_restart vnet_rx_timer_fn(struct hrtimer *t)
{
	struct vnet_priv *priv = container_of(t, struct vnet_priv, rx_timer);
	u32 rate = vnet_gen_rate(priv);
	u32 burst = vnet_gen_burst(priv);
	unsigned int granted;
	u64 period, wait;

	/* No link partner (ip link set DEV carrier off): nothing arrives. */
	if (!rate || vnet_partner_down(priv)) {
		hrtimer_forward_now(t, ns_to_ktime(VNET_RX_IDLE_NS));
		return HRTIMER_RESTART;
	}
	granted = vnet_gen_grant(priv, burst, &wait);
	/* Also with nothing granted: a full ring still needs its interrupt. */
	vnet_rx_generate(priv, granted);

	period = div_u64((u64)burst * NSEC_PER_SEC, rate);
	/*
	 * Overruns (a slow machine) skip ticks rather than bunching them up.
	 * A spent budget: the next tick when it refills.
	 */
	hrtimer_forward_now(t, ns_to_ktime(max3(period, (u64)1000, wait)));
	return HRTIMER_RESTART;
}

static void vnet_rx_timer_init(struct vnet_priv *priv)
{
	vnet_hrtimer_setup(&priv->rx_timer, vnet_rx_timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
}

static void vnet_sim_start(struct vnet_priv *priv)
{
	hrtimer_start(&priv->rx_timer, ns_to_ktime(NSEC_PER_MSEC),
		      HRTIMER_MODE_REL_SOFT);
}

static void vnet_sim_stop(struct vnet_priv *priv)
{
	struct vnet_queue *q;

	hrtimer_cancel(&priv->rx_timer);
	/* Its last tick may have raised interrupts on other CPUs: let them land. */
	vnet_for_each_queue(priv, q)
		vnet_rx_irq_sync(q);
}


/* ---- the simulated NIC's hardware operations ---------------------------- */

/* TX: every frame is done at its due time; ring the TX-done interrupt for it. */
INDIRECT_CALLABLE_SCOPE void vnet_sim_tx_kick(struct vnet_queue *q, u64 delay_ns)
{
	vnet_tx_irq_arm(q, delay_ns);
}

INDIRECT_CALLABLE_SCOPE u64 vnet_sim_tx_pending(struct vnet_queue *q,
						const struct vnet_tx_desc *d, u32 idx, u64 now)
{
	return d->due_ns > now ? d->due_ns - now : 0;
}

/* The generator counts a full ring as missed frames: it never waits for room. */
static void vnet_sim_rx_room(struct vnet_queue *q)
{
}

/*
 * Each tick of the generator is an RX interrupt: one is due while it runs at
 * a rate.  At rate 0 its timer only looks for a new rate now and then.
 */
static bool vnet_sim_rx_irq_pending(struct vnet_queue *q)
{
	return vnet_gen_rate(q->priv) && hrtimer_active(&q->priv->rx_timer);
}

const struct vnet_hw_ops vnet_sim_hw = {
	.name		= "simulated",
	/*
	 * The slowest completion is 2 s: tx-usecs at most 1 s, and as long
	 * again for the moderated interrupt (vnet_tx_poll()).  A stall is much
	 * longer.
	 */
	.watchdog_timeo	= 5 * HZ,
	.start		= vnet_sim_start,
	.stop		= vnet_sim_stop,
	.tx_kick	= vnet_sim_tx_kick,
	.tx_pending	= vnet_sim_tx_pending,
	.rx_room	= vnet_sim_rx_room,
	.rx_irq_pending	= vnet_sim_rx_irq_pending,
};

/* A new device: its knobs from the module's defaults, its generator stopped. */
void vnet_sim_init(struct vnet_priv *priv)
{
	vnet_gen_init(priv);
	vnet_rx_timer_init(priv);
}

/* ---- /sys/class/net/DEV/vnet/ ------------------------------------------ */

static struct vnet_priv *vnet_gen_priv(struct device *d)
{
	return netdev_priv(to_net_dev(d));
}

static struct vnet_gen_cfg *vnet_gen_of(struct device *d)
{
	return &vnet_gen_priv(d)->gen;
}

/* As net-sysfs does for the device's own attributes: admin of its netns. */
static bool vnet_gen_may_write(struct device *d)
{
	return ns_capable(dev_net(to_net_dev(d))->user_ns, CAP_NET_ADMIN);
}

/*
 * Every number knob: one word, read by the generator with READ_ONCE().  A
 * value above BOUND is -EPERM on a device an unprivileged user can make
 * (vnet_gen_bounded()): valid, but not there.
 */
static ssize_t vnet_gen_store(struct device *d, const char *buf, size_t len,
			      int (*parse)(const char *val, u32 *out), u32 *field, u32 bound)
{
	u32 v;
	int err;

	if (!vnet_gen_may_write(d))
		return -EPERM;
	err = parse(buf, &v);
	if (err)
		return err;
	if (v > bound && vnet_gen_bounded(vnet_gen_priv(d)))
		return -EPERM;
	WRITE_ONCE(*field, v);
	return len;
}

/* rx_rate and rx_burst show what the generator runs at (vnet_gen_rate()). */
#define VNET_UINT_KNOB(name, field, parse, bound)				\
static ssize_t name##_show(struct device *d, struct device_attribute *attr,	\
			   char *buf)						\
{										\
	return sysfs_emit(buf, "%u\n", vnet_gen_##field(vnet_gen_priv(d)));	\
}										\
static ssize_t name##_store(struct device *d, struct device_attribute *attr,	\
			    const char *buf, size_t len)			\
{										\
	return vnet_gen_store(d, buf, len, parse, &vnet_gen_of(d)->field, bound);	\
}										\
static DEVICE_ATTR_RW(name)

VNET_UINT_KNOB(rx_rate, rate, vnet_parse_rate, VNET_RX_RATE_USERNS);
VNET_UINT_KNOB(rx_burst, burst, vnet_parse_burst, VNET_RX_BURST_USERNS);

static ssize_t rx_proto_show(struct device *d, struct device_attribute *attr, char *buf)
{
	u32 proto = READ_ONCE(vnet_gen_of(d)->proto);

	return sysfs_emit(buf, "%s\n", vnet_proto_names[proto]);
}

static ssize_t rx_proto_store(struct device *d, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	return vnet_gen_store(d, buf, len, vnet_parse_proto, &vnet_gen_of(d)->proto, U32_MAX);
}
static DEVICE_ATTR_RW(rx_proto);

static ssize_t rx_flows_show(struct device *d, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(vnet_gen_of(d)->flows));
}

static ssize_t rx_flows_store(struct device *d, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	return vnet_gen_store(d, buf, len, vnet_parse_flows, &vnet_gen_of(d)->flows, U32_MAX);
}
static DEVICE_ATTR_RW(rx_flows);

static ssize_t rx_size_show(struct device *d, struct device_attribute *attr, char *buf)
{
	u32 size = READ_ONCE(vnet_gen_of(d)->size);

	if (size == VNET_GEN_SIZE_IMIX)
		return sysfs_emit(buf, "imix\n");
	return sysfs_emit(buf, "%u\n", size);
}

static ssize_t rx_size_store(struct device *d, struct device_attribute *attr,
			     const char *buf, size_t len)
{
	/* imix (0) is within the bound: its largest frame is 1514 bytes. */
	return vnet_gen_store(d, buf, len, vnet_parse_size, &vnet_gen_of(d)->size,
			      VNET_RX_SIZE_USERNS);
}
static DEVICE_ATTR_RW(rx_size);

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

/* Which hardware is behind the rings now (switched under RTNL). */
static ssize_t hw_show(struct device *d, struct device_attribute *attr, char *buf)
{
	struct vnet_priv *priv = netdev_priv(to_net_dev(d));

	return sysfs_emit(buf, "%s\n", READ_ONCE(priv->hw)->name);
}
static DEVICE_ATTR_RO(hw);

static struct attribute *vnet_sysfs_attrs[] = {
	&dev_attr_rx_rate.attr,
	&dev_attr_rx_burst.attr,
	&dev_attr_peer_mac.attr,
	&dev_attr_peer_ip.attr,
	&dev_attr_rx_proto.attr,
	&dev_attr_rx_flows.attr,
	&dev_attr_rx_size.attr,
	&dev_attr_hw.attr,
	NULL,
};

/* Set as the device's own sysfs group before it registers: the core adds and removes it. */
const struct attribute_group vnet_sysfs_group = {
	.name = "vnet",
	.attrs = vnet_sysfs_attrs,
};
