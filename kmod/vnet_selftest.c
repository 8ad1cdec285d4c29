// SPDX-License-Identifier: GPL-2.0
/*
 * ethtool -t: the driver's self-test, as a NIC driver has one.
 *
 *  0. "ring indexes (online)": the rings' indexes are in the order the
 *     hardware and the driver keep them (tail <= sent <= head, nothing used
 *     beyond the ring's size), read as `ethtool -d` reads them.
 *  1. "loopback (offline)": frames sent through the whole device come back
 *     through it, byte for byte.  The simulated NIC is put in loopback, as a
 *     driver puts its MAC or PHY in loopback for this test: its generator
 *     stops, and every test frame it completes on the TX ring it writes into
 *     the RX ring, where the NAPI poll takes it up to the stack.  The test's
 *     own packet handler (dev_add_pack) counts what arrives; only the test's
 *     EtherType is looped, so the stack's other frames go out as ever.
 *
 * The offline test is the default of `ethtool -t DEV`; `ethtool -t DEV online`
 * skips it.  It needs the device up and on the simulated NIC (not bound to
 * /dev/vnet), else it fails and the kernel log says why.  Its frames count
 * in the device's counters like any others (tx_other, rx_other).  An XDP
 * program that drops them makes it fail: that is what the stack would see.
 */
#include <linux/completion.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include <linux/skbuff.h>
#include "vnet.h"

#define VNET_LB_ETHERTYPE	ETH_P_802_EX1	/* the local experimental EtherType */
#define VNET_LB_FRAMES		16
#define VNET_LB_LEN		128		/* frame length, no FCS */
#define VNET_LB_PAYLOAD		(VNET_LB_LEN - ETH_HLEN)
/*
 * How long the frames may take to come back.  ethtool calls the test
 * holding RTNL, which every network namespace shares, so this is short, and
 * shorter still on a device any local user may have made.
 */
#define VNET_LB_WAIT_MS		500
#define VNET_LB_WAIT_MS_USERNS	50

enum vnet_test {
	VNET_TEST_RINGS,
	VNET_TEST_LOOPBACK,
	VNET_TEST_NUM,
};

static const char vnet_test_names[VNET_TEST_NUM][ETH_GSTRING_LEN] = {
	[VNET_TEST_RINGS]	= "ring indexes (online)",
	[VNET_TEST_LOOPBACK]	= "loopback (offline)",
};

int vnet_selftest_count(void)
{
	return VNET_TEST_NUM;
}

void vnet_selftest_strings(u8 *data)
{
	memcpy(data, vnet_test_names, sizeof(vnet_test_names));
}

/* Test 0, on one queue pair: 0 when every index is where it may be, else 1. */
static u64 vnet_test_queue_rings(struct vnet_queue *q)
{
	const struct vnet_tx_ring *t = &q->tx;
	const struct vnet_rx_ring *r = &q->rx;
	u32 tail, sent, head, rtail, rhead;
	/*
	 * Followers before producers, each load ordered before the next:
	 * then a difference is never "negative", though the rings run.
	 */
	tail = smp_load_acquire(&t->tail);
	sent = smp_load_acquire(&t->sent);
	head = READ_ONCE(t->head);
	rtail = smp_load_acquire(&r->tail);
	rhead = READ_ONCE(r->head);
	if (head - tail > t->size || rhead - rtail > r->size)
		return 1;
	/* The backend's reader takes frames between tail and head. */
	if (q->priv->hw == &vnet_backend_hw && sent - tail > head - tail)
		return 1;
	return 0;
}

/* Test 0: every active queue pair's rings are in order. */
static u64 vnet_test_rings(struct vnet_priv *priv)
{
	struct vnet_queue *q;

	if (!netif_running(priv->dev))
		return 0;	/* no rings while down: nothing out of order */
	vnet_for_each_queue(priv, q)
		if (vnet_test_queue_rings(q))
			return 1;
	return 0;
}

/*
 * The payload of loopback frame I: "vnet", I, the test's random cookie (so
 * that a frame from anyone else never passes for one), then a pattern.
 */
static void vnet_lb_fill(u8 *p, u8 i, u32 cookie)
{
	unsigned int k;

	memcpy(p, "vnet", 4);
	p[4] = i;
	memcpy(p + 5, &cookie, sizeof(cookie));
	for (k = 9; k < VNET_LB_PAYLOAD; k++)
		p[k] = i + k;
}

struct vnet_lb {
	struct packet_type pt;
	u32 cookie;
	unsigned long seen;	/* bit I: frame I came back as sent */
	atomic_t good;		/* frames back as sent, each counted once */
	struct completion all_back;
};

/* The stack's delivery of a looped frame (RX softirq). */
static int vnet_lb_rcv(struct sk_buff *skb, struct net_device *dev,
		       struct packet_type *pt, struct net_device *orig)
{
	struct vnet_lb *lb = container_of(pt, struct vnet_lb, pt);
	u8 got[VNET_LB_PAYLOAD], want[VNET_LB_PAYLOAD];

	BUILD_BUG_ON(VNET_LB_FRAMES > BITS_PER_LONG);
	/* skb->data is past the Ethernet header (eth_type_trans). */
	if (skb->len != sizeof(got) || skb_copy_bits(skb, 0, got, sizeof(got)) ||
	    got[4] >= VNET_LB_FRAMES)
		goto out;
	vnet_lb_fill(want, got[4], lb->cookie);
	if (!memcmp(got, want, sizeof(want)) && !test_and_set_bit(got[4], &lb->seen) &&
	    atomic_inc_return(&lb->good) == VNET_LB_FRAMES)
		complete(&lb->all_back);
out:
	consume_skb(skb);
	return NET_RX_SUCCESS;
}

/*
 * The simulated NIC in loopback: a test frame it completed goes into the RX
 * ring of the same queue pair (TX NAPI, softirq).  With the generator stopped this is the ring's
 * only producer.  Only as many frames loop as the test sent; a full ring
 * loses the frame, and the test counts it missing.
 */
void vnet_loopback_frame(struct vnet_queue *q, const struct sk_buff *skb)
{
	struct vnet_priv *priv = q->priv;
	struct vnet_rx_ring *r = &q->rx;
	const struct ethhdr *eth = (const struct ethhdr *)skb->data;
	struct vnet_rx_slot *s;
	u32 tail;

	if (skb_headlen(skb) < ETH_HLEN || eth->h_proto != htons(VNET_LB_ETHERTYPE) ||
	    skb->len > VNET_RX_MAX_FRAME(r->order) ||
	    atomic_dec_if_positive(&priv->loopback_budget) < 0)
		return;
	/* Pairs with the release of tail in the poll: that slot's page is ours. */
	tail = smp_load_acquire(&r->tail);
	if (r->head - tail >= r->size)
		return;
	s = &r->slot[r->head & (r->size - 1)];
	if (skb_copy_bits(skb, 0, page_address(s->page) + VNET_RX_HEADROOM, skb->len))
		return;
	s->len = skb->len;
	s->hash_type = PKT_HASH_TYPE_NONE;	/* looped, not hashed */
	/* The frame is written before the poll can see the new head. */
	smp_store_release(&r->head, r->head + 1);
	vnet_rx_irq_raise(q);
}

/* Test 1: the frames that did not come back as sent (0: all did). */
static u64 vnet_test_loopback(struct vnet_priv *priv)
{
	struct net_device *dev = priv->dev;
	unsigned int wait_ms = vnet_gen_bounded(priv) ? VNET_LB_WAIT_MS_USERNS : VNET_LB_WAIT_MS;
	struct vnet_lb lb = {};
	u32 i;

	ASSERT_RTNL();
	if (!netif_running(dev) || !netif_carrier_ok(dev)) {
		netdev_info(dev, "self-test: loopback needs the device up, with its link\n");
		return VNET_LB_FRAMES;
	}
	if (priv->hw != &vnet_sim_hw) {
		netdev_info(dev, "self-test: loopback needs the simulated NIC (close /dev/vnet)\n");
		return VNET_LB_FRAMES;
	}
	/* Frames the NIC sends this late cannot be back in time. */
	if (READ_ONCE(priv->tx_usecs) >= wait_ms * USEC_PER_MSEC) {
		netdev_info(dev, "self-test: loopback needs tx-usecs under %u ms\n", wait_ms);
		return VNET_LB_FRAMES;
	}
	lb.cookie = get_random_u32();
	init_completion(&lb.all_back);
	lb.pt.type = htons(VNET_LB_ETHERTYPE);
	lb.pt.dev = dev;
	lb.pt.func = vnet_lb_rcv;
	dev_add_pack(&lb.pt);
	/* The generator stops (hrtimer_cancel waits for a tick that runs). */
	priv->hw->stop(priv);
	atomic_set(&priv->loopback_budget, VNET_LB_FRAMES);
	/* After the generator's last frame: the completion sees its head. */
	smp_store_release(&priv->loopback, true);

	for (i = 0; i < VNET_LB_FRAMES; i++) {
		struct sk_buff *skb = netdev_alloc_skb(dev, VNET_LB_LEN);
		struct ethhdr *eth;

		if (!skb)
			break;
		eth = skb_put(skb, ETH_HLEN);
		ether_addr_copy(eth->h_dest, dev->dev_addr);
		ether_addr_copy(eth->h_source, dev->dev_addr);
		eth->h_proto = htons(VNET_LB_ETHERTYPE);
		vnet_lb_fill(skb_put(skb, VNET_LB_PAYLOAD), i, lb.cookie);
		skb_reset_mac_header(skb);
		skb_set_network_header(skb, ETH_HLEN);
		skb->protocol = eth->h_proto;
		skb->dev = dev;
		/* Through the qdisc and xmit, as the stack's own frames go. */
		if (dev_queue_xmit(skb) != NET_XMIT_SUCCESS)
			break;	/* dropped: the rest would not come back either */
	}
	if (i == VNET_LB_FRAMES)
		wait_for_completion_timeout(&lb.all_back, msecs_to_jiffies(wait_ms));

	WRITE_ONCE(priv->loopback, false);
	atomic_set(&priv->loopback_budget, 0);
	/*
	 * synchronize_net(): every delivery to our handler, and every TX
	 * completion that still saw loopback set (a NAPI poll is an RCU
	 * reader), is over before lb leaves the stack and the generator
	 * writes into the ring again.
	 */
	dev_remove_pack(&lb.pt);
	priv->hw->start(priv);
	return VNET_LB_FRAMES - atomic_read(&lb.good);
}

/* ethtool_ops.self_test (RTNL): one result per test, 0 = passed (data is zeroed). */
void vnet_self_test(struct net_device *dev, struct ethtool_test *etest, u64 *data)
{
	struct vnet_priv *priv = netdev_priv(dev);

	data[VNET_TEST_RINGS] = vnet_test_rings(priv);
	if (etest->flags & ETH_TEST_FL_OFFLINE)
		data[VNET_TEST_LOOPBACK] = vnet_test_loopback(priv);
	if (data[VNET_TEST_RINGS] || data[VNET_TEST_LOOPBACK])
		etest->flags |= ETH_TEST_FL_FAILED;
}
