// SPDX-License-Identifier: GPL-2.0
/*
 * The generator's UDP and TCP flows: traffic more like a real network's than
 * the one ARP request the generator sends by default (vnet_sim.c); rx_proto
 * picks one of these instead.
 *
 * Every frame is a well-formed IPv4 or IPv6 packet from the peer to this
 * device, with checksums computed as the peer would have.  The driver hands
 * them up with CHECKSUM_NONE, as a NIC without RX checksum offload does, so
 * the stack checks every one: a bad checksum would show in nstat's
 * Udp/TcpInCsumErrors.
 *
 * A flow is one 5-tuple: source port 1024 + its number, destination port 9
 * (discard).  Flows are taken in turn, so a burst of 64 frames over 4 flows
 * puts 16 of each into one NAPI poll.  A TCP flow's segments carry at least
 * one byte, consecutive sequence numbers and only the ACK flag, which is what
 * GRO needs to merge them into one large packet.  It merges segments of one
 * flow within one poll while they keep their size: with a fixed rx_size and
 * rx_burst above rx_flows, not much under IMIX.
 *
 * Nobody listens on port 9, so the stack answers with a TCP reset or an ICMP
 * port unreachable.  Those replies need the peer's link-layer address, and no
 * ARP request from the peer taught it to the stack: they wait for an answer
 * to the stack's own ARP or neighbour solicitation, which never comes, unless
 * a permanent neighbour entry is set (ip neigh replace ... nud permanent).
 *
 * The frame length is fixed (rx_size) or follows the simple IMIX: of every
 * 12 frames, 7 are 60 bytes, 4 are 590 and 1 is 1514 (lengths without FCS).
 */
#include <linux/etherdevice.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <net/addrconf.h>
#include <net/checksum.h>
#include <net/ip6_checksum.h>
#include "vnet.h"

#define VNET_FLOW_SPORT_BASE	1024
#define VNET_FLOW_DPORT		9	/* discard */
#define VNET_FLOW_TTL		64

/*
 * Every header, and a TCP segment's one byte, fits the smallest MTU: a frame
 * cut to the MTU is never shorter than its headers.
 */
static_assert(ETH_MIN_MTU >= sizeof(struct ipv6hdr) + sizeof(struct tcphdr) + 1);

/* The simple IMIX, in the order the frames come. */
static const u16 vnet_imix[] = {
	60, 60, 60, 590, 60, 60, 590, 60, 60, 590, 590, 1514,
};

/* fe80::/64 with the interface identifier made from a MAC (modified EUI-64). */
static void vnet_ll_from_mac(struct in6_addr *a, const u8 *mac)
{
	memset(a, 0, sizeof(*a));
	a->s6_addr[0] = 0xfe;
	a->s6_addr[1] = 0x80;
	a->s6_addr[8] = mac[0] ^ 0x02;	/* the universal/local bit is inverted */
	a->s6_addr[9] = mac[1];
	a->s6_addr[10] = mac[2];
	a->s6_addr[11] = 0xff;
	a->s6_addr[12] = 0xfe;
	a->s6_addr[13] = mac[3];
	a->s6_addr[14] = mac[4];
	a->s6_addr[15] = mac[5];
}

/*
 * The addresses of one generator tick.  The IPv6 destination is the address
 * the stack would answer the peer from: the link-local address it gave this
 * device, which is not always made from the MAC (addr_gen_mode stable_secret
 * or random).  Without one (IPv6 off, or the address still tentative) the
 * frames carry the EUI-64 address and the stack drops them, as it would a
 * real peer's.
 */
void vnet_flow_addrs_get(struct vnet_priv *priv, struct vnet_flow_addrs *a, bool v6,
			 const u8 *peer_mac, __be32 peer_ip, __be32 target_ip)
{
	struct net_device *dev = priv->dev;

	/*
	 * Read without RTNL, which a change of address holds: a copy torn by
	 * one only makes a frame for another host, which the stack drops.
	 */
	ether_addr_copy(a->dst_mac, dev->dev_addr);
	ether_addr_copy(a->src_mac, peer_mac);
	a->saddr = peer_ip;
	a->daddr = target_ip;
	vnet_ll_from_mac(&a->saddr6, peer_mac);
	if (!v6)
		return;
#if IS_ENABLED(CONFIG_IPV6)
	if (!ipv6_dev_get_saddr(dev_net(dev), dev, &a->saddr6, 0, &a->daddr6))
		return;
#endif
	vnet_ll_from_mac(&a->daddr6, dev->dev_addr);
}

/* The next frame's length: rx_size, or the next step of the IMIX. */
static u32 vnet_flow_len(struct vnet_priv *priv)
{
	struct vnet_gen_state *st = &priv->gen_state;
	u32 size = READ_ONCE(priv->gen.size);

	if (size != VNET_GEN_SIZE_IMIX)
		return size;
	size = vnet_imix[st->imix_pos];
	st->imix_pos = (st->imix_pos + 1) % ARRAY_SIZE(vnet_imix);
	return size;
}

static void vnet_flow_ip4(struct iphdr *ip, const struct vnet_flow_addrs *a,
			  u8 l4proto, u32 tot_len, u16 id)
{
	ip->version = 4;
	ip->ihl = sizeof(*ip) / 4;
	ip->tos = 0;
	ip->tot_len = htons(tot_len);
	ip->id = htons(id);
	ip->frag_off = htons(IP_DF);
	ip->ttl = VNET_FLOW_TTL;
	ip->protocol = l4proto;
	ip->check = 0;
	ip->saddr = a->saddr;
	ip->daddr = a->daddr;
	ip->check = ip_fast_csum(ip, ip->ihl);
}

static void vnet_flow_ip6(struct ipv6hdr *ip6, const struct vnet_flow_addrs *a,
			  u8 l4proto, u32 payload_len)
{
	memset(ip6, 0, sizeof(*ip6));
	ip6->version = 6;
	ip6->payload_len = htons(payload_len);
	ip6->nexthdr = l4proto;
	ip6->hop_limit = VNET_FLOW_TTL;
	ip6->saddr = a->saddr6;
	ip6->daddr = a->daddr6;
}

/* The flows there are: rx_flows, read as the generator uses it. */
static u32 vnet_flow_count(struct vnet_priv *priv)
{
	return clamp_t(u32, READ_ONCE(priv->gen.flows), 1, VNET_GEN_FLOWS_MAX);
}

/*
 * The flow whose turn it is: the hardware steers its frame by it
 * (vnet_sim.c), and the turn passes on whether the frame is made or not (a
 * full ring).  Taken once per frame, so a change of rx_flows in between
 * cannot give the frame one flow's queue and another's ports.
 */
u32 vnet_flow_take(struct vnet_priv *priv)
{
	u32 n = priv->gen_state.next_flow % vnet_flow_count(priv);

	priv->gen_state.next_flow = n + 1;
	return n;
}

/*
 * What the NIC hashes to steer flow N (vnet_rss.c): the source and the
 * destination address, then the source and the destination port, in the
 * byte order of the wire.  Writes BUF (VNET_FLOW_RSS_INPUT_MAX bytes at
 * most) and returns its length.
 */
unsigned int vnet_flow_rss_input(const struct vnet_flow_addrs *a, bool v6,
				 u32 n, u8 *buf)
{
	__be16 ports[2] = { htons(VNET_FLOW_SPORT_BASE + n), htons(VNET_FLOW_DPORT) };
	unsigned int len;

	if (v6) {
		memcpy(buf, &a->saddr6, sizeof(a->saddr6));
		memcpy(buf + 16, &a->daddr6, sizeof(a->daddr6));
		len = 32;
	} else {
		memcpy(buf, &a->saddr, sizeof(a->saddr));
		memcpy(buf + 4, &a->daddr, sizeof(a->daddr));
		len = 8;
	}
	memcpy(buf + len, ports, sizeof(ports));
	return len + sizeof(ports);
}

/*
 * Write a frame of flow N (vnet_flow_take()) into FRAME (at most MAX_LEN
 * bytes) and return its length.  PROTO is one of the UDP or TCP kinds.
 */
u32 vnet_build_flow(struct vnet_priv *priv, u8 *frame, u32 max_len,
		    enum vnet_gen_proto proto, const struct vnet_flow_addrs *a, u32 n)
{
	struct vnet_gen_state *st = &priv->gen_state;
	bool v6 = proto == VNET_GEN_UDP6 || proto == VNET_GEN_TCP6;
	bool tcp = proto == VNET_GEN_TCP4 || proto == VNET_GEN_TCP6;
	u32 l3len = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	u32 l4hlen = tcp ? sizeof(struct tcphdr) : sizeof(struct udphdr);
	struct vnet_gen_flow *f = &st->flow[n];
	u8 l4proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	struct ethhdr *eth = (struct ethhdr *)frame;
	u32 len, l4len;
	void *l4;
	__wsum csum;
	__sum16 check;

	/*
	 * Never shorter than Ethernet's minimum or the headers (and a TCP
	 * segment has a byte to move its sequence on), never over MAX_LEN.
	 */
	len = vnet_flow_len(priv);
	len = max3(len, (u32)ETH_ZLEN, ETH_HLEN + l3len + l4hlen + tcp);
	len = min(len, max_len);
	l4len = len - ETH_HLEN - l3len;

	ether_addr_copy(eth->h_dest, a->dst_mac);
	ether_addr_copy(eth->h_source, a->src_mac);
	eth->h_proto = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);

	l4 = frame + ETH_HLEN + l3len;
	/* The payload: zeros, as from a program writing a zeroed buffer. */
	memset(l4 + l4hlen, 0, l4len - l4hlen);
	if (tcp) {
		struct tcphdr *th = l4;

		memset(th, 0, sizeof(*th));
		th->source = htons(VNET_FLOW_SPORT_BASE + n);
		th->dest = htons(VNET_FLOW_DPORT);
		th->seq = htonl(f->seq);
		th->ack_seq = htonl(1);
		th->doff = sizeof(*th) / 4;
		th->ack = 1;
		th->window = htons(65535);
		f->seq += l4len - l4hlen;
	} else {
		struct udphdr *uh = l4;

		uh->source = htons(VNET_FLOW_SPORT_BASE + n);
		uh->dest = htons(VNET_FLOW_DPORT);
		uh->len = htons(l4len);
		uh->check = 0;
	}

	/*
	 * The L4 checksum covers a pseudo-header of the addresses and the
	 * length, the L4 header and the payload.  Zero bytes add nothing to a
	 * ones' complement sum, so the zero payload needs no summing.
	 */
	csum = csum_partial(l4, l4hlen, 0);
	if (v6) {
		vnet_flow_ip6((struct ipv6hdr *)(eth + 1), a, l4proto, l4len);
		check = csum_ipv6_magic(&a->saddr6, &a->daddr6, l4len, l4proto, csum);
	} else {
		vnet_flow_ip4((struct iphdr *)(eth + 1), a, l4proto,
			      len - ETH_HLEN, f->ip_id++);
		check = csum_tcpudp_magic(a->saddr, a->daddr, l4len, l4proto, csum);
	}
	if (tcp) {
		((struct tcphdr *)l4)->check = check;
	} else {
		/* In UDP a zero checksum means "none": a computed zero is sent as 0xffff. */
		((struct udphdr *)l4)->check = check ?: CSUM_MANGLED_0;
	}
	return len;
}
