// SPDX-License-Identifier: GPL-2.0
/*
 * Native XDP: the program attached with ndo_bpf runs in vnet_napi_poll() on
 * every RX buffer, before any skb exists.
 *
 * The buffers are pages with XDP_PACKET_HEADROOM in front of the frame
 * (vnet_rx.c), so the program may grow the head, and with skb_shared_info room
 * behind it, so XDP_PASS builds the skb around the same page.  Verdicts:
 *
 *   XDP_PASS      the skb is built from the possibly moved data/data_end
 *   XDP_DROP      the page stays in its slot for the next frame
 *   XDP_TX        the frame goes out of this device through the TX ring,
 *                 queued during the poll and posted once at its end
 *   XDP_REDIRECT  xdp_do_redirect(); xdp_do_flush() once at the end of the poll
 *   XDP_ABORTED   (and unknown actions) trace_xdp_exception, then drop
 *
 * A frame that leaves (TX, REDIRECT) takes its page with it: the slot gets
 * another from the ring's page pool first, as for XDP_PASS, and the page goes
 * back to the pool when the frame is freed (MEM_TYPE_PAGE_POOL).
 * ndo_xdp_xmit takes frames redirected to this device from elsewhere and puts
 * them on the TX ring.
 *
 * The program pointer is RCU-protected: ndo_bpf swaps it under RTNL, the poll
 * reads it with BHs off (an RCU read side), and the old program's last
 * reference is dropped through call_rcu by bpf_prog_put().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf_trace.h>
#include <linux/filter.h>
#include <linux/netdevice.h>
#include <linux/slab.h>
#include <net/xdp.h>
#include "vnet.h"

/* ---- control plane (RTNL held) ------------------------------------------- */

static int vnet_xdp_set(struct net_device *dev, struct bpf_prog *prog,
			struct netlink_ext_ack *extack)
{
	struct vnet_priv *priv = netdev_priv(dev);
	struct bpf_prog *old;

	if (prog && dev->mtu > VNET_XDP_MAX_MTU) {
		NL_SET_ERR_MSG_MOD(extack,
				   "MTU too large for XDP: a frame must fit one page (MTU 3502 with 4 KiB pages)");
		return -EINVAL;
	}
	old = rtnl_dereference(priv->xdp_prog);
	/* The core took a reference for us; the one we held on OLD is dropped. */
	rcu_assign_pointer(priv->xdp_prog, prog);
	if (old)
		bpf_prog_put(old);
	/* While a program runs, ip link shows (and enforces) the MTU it allows. */
	dev->max_mtu = prog ? VNET_XDP_MAX_MTU : VNET_MAX_MTU;
	netdev_dbg(dev, "XDP program %s\n", prog ? "attached" : "detached");
	return 0;
}

/* Called at unregister too (prog NULL), when the device may be down. */
int vnet_ndo_bpf(struct net_device *dev, struct netdev_bpf *bpf)
{
	switch (bpf->command) {
	case XDP_SETUP_PROG:
		return vnet_xdp_set(dev, bpf->prog, bpf->extack);
	default:
		return -EINVAL;
	}
}

/*
 * The RX queue's identity for XDP programs (ctx->rx_queue_index, memory
 * model), one per RX ring: a resize registers the new ring's before the old
 * one's goes.
 */
int vnet_xdp_rxq_reg(struct vnet_queue *q, struct vnet_rx_ring *r)
{
	struct xdp_rxq_info *rxq;
	int err;

	if (vnet_should_fail(VNET_FAULT_RXQ))
		return -ENOMEM;
	rxq = kzalloc(sizeof(*rxq), GFP_KERNEL_ACCOUNT);
	if (!rxq)
		return -ENOMEM;
	err = xdp_rxq_info_reg(rxq, q->dev, q->index, q->rx_napi.napi_id);
	if (err)
		goto err_free;
	/* xdp_return_frame() gives a frame's page back to the ring's pool. */
	err = xdp_rxq_info_reg_mem_model(rxq, MEM_TYPE_PAGE_POOL, r->pool);
	if (err)
		goto err_unreg;
	r->rxq = rxq;
	vnet_obj_add(VNET_OBJ_RXQS, 1);
	return 0;

err_unreg:
	xdp_rxq_info_unreg(rxq);
err_free:
	kfree(rxq);
	return err;
}

void vnet_xdp_rxq_unreg(struct vnet_rx_ring *r)
{
	if (!r->rxq)
		return;
	xdp_rxq_info_unreg(r->rxq);
	kfree(r->rxq);
	r->rxq = NULL;
	vnet_obj_add(VNET_OBJ_RXQS, -1);
}

/* ---- data plane (NAPI) ------------------------------------------------------ */

/* Post the queued XDP_TX frames; those that do not fit are dropped and counted. */
static void vnet_xdp_tx_flush(struct vnet_queue *q, struct vnet_xdp_poll *x)
{
	int sent = vnet_tx_xdp_frames(vnet_xdp_tx_queue(q->priv), x->tx, x->n_tx, false);
	unsigned int i;

	if (sent < 0)
		sent = 0;
	for (i = sent; i < x->n_tx; i++) {
		trace_xdp_exception(q->dev, x->prog, XDP_TX);
		xdp_return_frame_rx_napi(x->tx[i]);
		vnet_stats_update(&q->rx_stats, {
			u64_stats_inc(&q->rx_stats.xdp_tx_errors);
			u64_stats_inc(&q->rx_stats.dropped);
		});
	}
	x->n_tx = 0;
}

/* The frame leaves with its page: the slot needs a new one first. */
static struct page *vnet_xdp_fresh_page(struct vnet_queue *q)
{
	struct page *page = vnet_rx_page_alloc(q);

	if (unlikely(!page))
		vnet_stats_update(&q->rx_stats, u64_stats_inc(&q->rx_stats.alloc_failed));
	return page;
}

/* One verdict of the program: xdp_packets and VERDICT, and DROPPED with it. */
static void vnet_xdp_count(struct vnet_rx_stats *st, u64_stats_t *verdict, bool dropped)
{
	vnet_stats_update(st, {
		u64_stats_inc(&st->xdp_packets);
		u64_stats_inc(verdict);
		if (dropped)
			u64_stats_inc(&st->dropped);
	});
}

/*
 * Run the program on the frame in slot S.  Returns VNET_XDP_UP when the frame
 * goes on to the stack, with *HEADROOM, *LEN and *METASIZE describing where the
 * program left it.  Each outcome is counted in a writer section of its own.
 */
enum vnet_xdp_result vnet_xdp_run(struct vnet_queue *q, struct vnet_xdp_poll *x,
				  struct vnet_rx_slot *s, u32 *headroom, u32 *len,
				  u32 *metasize)
{
	struct vnet_rx_stats *st = &q->rx_stats;
	void *hard_start = page_address(s->page);
	struct xdp_frame *xdpf;
	struct page *fresh;
	struct xdp_buff xdp;
	u32 act;

	xdp_init_buff(&xdp, PAGE_SIZE, q->rx.rxq);
	xdp_prepare_buff(&xdp, hard_start, *headroom, *len, true);
	act = bpf_prog_run_xdp(x->prog, &xdp);

	switch (act) {
	case XDP_PASS:
		vnet_xdp_count(st, &st->xdp_pass, false);
		*headroom = xdp.data - hard_start;
		*len = xdp.data_end - xdp.data;
		*metasize = xdp.data - xdp.data_meta;
		return VNET_XDP_UP;
	case XDP_TX:
		vnet_xdp_count(st, &st->xdp_tx, false);
		fresh = vnet_xdp_fresh_page(q);
		if (!fresh)
			goto tx_error;
		xdpf = xdp_convert_buff_to_frame(&xdp);
		if (unlikely(!xdpf)) {
			page_pool_recycle_direct(q->rx.pool, fresh);
			goto tx_error;
		}
		s->page = fresh;
		x->tx[x->n_tx++] = xdpf;
		if (x->n_tx == VNET_XDP_TX_BULK)
			vnet_xdp_tx_flush(q, x);
		return VNET_XDP_CONSUMED;
	case XDP_REDIRECT:
		vnet_xdp_count(st, &st->xdp_redirect, false);
		fresh = vnet_xdp_fresh_page(q);
		if (!fresh)
			goto redirect_error;
		if (xdp_do_redirect(q->dev, &xdp, x->prog)) {
			/* Not taken: the page is still ours, and still in the slot. */
			page_pool_recycle_direct(q->rx.pool, fresh);
			goto redirect_error;
		}
		s->page = fresh;
		x->redirected = true;
		return VNET_XDP_CONSUMED;
	default:
		bpf_warn_invalid_xdp_action(q->dev, x->prog, act);
		fallthrough;
	case XDP_ABORTED:
		trace_xdp_exception(q->dev, x->prog, act);
		vnet_xdp_count(st, &st->xdp_aborted, true);
		return VNET_XDP_DROPPED;
	case XDP_DROP:
		/* LESSON 9 TODO: count the drop; the page stays in the slot for the next frame */
		vnet_xdp_count(st, &st->xdp_drop, true);
		return VNET_XDP_DROPPED;
		/* LESSON 9 SKELETON: return VNET_XDP_UP; */
		/* LESSON 9 END */
	}

tx_error:
	trace_xdp_exception(q->dev, x->prog, XDP_TX);
	vnet_stats_update(st, {
		u64_stats_inc(&st->xdp_tx_errors);
		u64_stats_inc(&st->dropped);
	});
	return VNET_XDP_DROPPED;
redirect_error:
	vnet_stats_update(st, {
		u64_stats_inc(&st->xdp_redirect_errors);
		u64_stats_inc(&st->dropped);
	});
	return VNET_XDP_DROPPED;
}

/* End of a poll: post XDP_TX frames, flush redirects (before napi_complete). */
void vnet_xdp_poll_flush(struct vnet_queue *q, struct vnet_xdp_poll *x)
{
	if (x->n_tx)
		vnet_xdp_tx_flush(q, x);
	if (x->redirected)
		xdp_do_flush();
	x->redirected = false;
}

/*
 * Frames redirected to this device (a devmap entry, bpf_redirect()).  Queue
 * as many as fit and return that number: the caller frees the others.
 */
int vnet_ndo_xdp_xmit(struct net_device *dev, int n, struct xdp_frame **frames,
		      u32 flags)
{
	if (unlikely(flags & ~XDP_XMIT_FLAGS_MASK))
		return -EINVAL;
	/* Every post rings the doorbell, so XDP_XMIT_FLUSH needs nothing more. */
	return vnet_tx_xdp_frames(vnet_xdp_tx_queue(netdev_priv(dev)), frames, n, true);
}
