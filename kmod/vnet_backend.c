// SPDX-License-Identifier: GPL-2.0
/*
 * The backend: /dev/vnet, where a process is the device's wire, in the manner
 * of tun.
 *
 * A process opens /dev/vnet and binds the file to a vnet device (VNET_BIND,
 * vnet_uapi.h).  From then on the file is the hardware behind the device's
 * rings (struct vnet_hw_ops, as vnet_sim.c's simulated NIC is when no file is
 * bound):
 *
 *  - TX: frames the stack posts wait in the TX ring until the process reads
 *    them.  read() is the NIC's DMA engine taking one frame: it copies the
 *    frame out and moves the ring's hardware pointer (tx.sent).  The frame is
 *    freed, counted and reported to BQL by the ordinary completion, in the TX
 *    NAPI, which the TX-done interrupt schedules tx-usecs after the read
 *    (interrupt moderation).  So a reader that lags lets the ring fill and the
 *    queue stop, and the queue wakes as the reader drains it: backpressure.
 *  - RX: write() is the NIC's DMA writing one received frame into the RX
 *    ring's next buffer.  The RX interrupt comes rx-usecs later (ethtool -C),
 *    so that NAPI, XDP and GRO see the frames written meanwhile in one poll.
 *    A full ring makes the writer wait (or -EAGAIN): nothing is dropped.
 *
 * Queues.  The file carries queue pair 0, the one queue pair a bound device
 * runs on: the rings below are priv->queue[0]'s.
 *
 * Locking.  RTNL serializes bind, unbind and the device's life cycle (open,
 * stop, ring rebuilds, deletion), which call the hardware's start and stop.
 * tx_lock and rx_lock make "take a frame" and "put a frame" atomic against
 * start and stop: while they are held, the rings cannot be freed.  They are
 * spinlocks held only for a copy between kernel buffers: a user buffer that
 * faults (or never returns, with userfaultfd) is copied outside them, from or
 * to the file's own bounce buffers, under per-direction mutexes that only the
 * file's own callers take.  So the device side never waits on userspace.
 *
 * Lifetime.  The file and the device point at each other (be->priv,
 * priv->be), both under RCU: the device's data paths use priv->be to wake the
 * process, the file's wait conditions and poll() use be->priv.  Whoever goes
 * first clears both: closing the file unbinds, deleting the device detaches
 * (vnet_backend_detach(), from ndo_uninit, before its RCU grace period).  An
 * open file holds a module reference, so the module cannot go while one is
 * open.
 *
 * A bound device keeps its file when it moves to another netns, as a tun
 * device does: the binding is to the device, checked once at bind time.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/if_vlan.h>
#include <asm/ioctls.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/rtnetlink.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <net/net_namespace.h>
#include "vnet.h"
#include "vnet_uapi.h"

/*
 * The bounce buffers: the largest frame either direction carries.  The stack
 * gives us no frame beyond the MTU plus headers (no GSO), but a redirect
 * (tc, XDP) from a device of 64 KiB MTU (lo) does not check ours.  A write
 * beyond our MTU is refused before it is copied.
 */
#define VNET_BE_BUF		(64 * 1024 + ETH_HLEN + VLAN_HLEN)

/*
 * Doorbell coalescing, as a NIC fetches descriptors in bursts: a sleeping
 * reader is woken at once when a batch waits (or the queue stopped), else
 * at most this long after the first frame.  Waking a process costs far more
 * than a frame (an IPI to its CPU and a context switch): one wake per frame
 * would make the wakeups, not the reader, the limit under load.
 */
#define VNET_BE_WAKE_BATCH	32
#define VNET_BE_WAKE_NS		(50 * NSEC_PER_USEC)

/*
 * A reader that takes nothing for this long while frames wait for it is a
 * link partner that stopped answering: the link goes down (carrier off) until
 * it reads again.  Without that, a reader that stops for good would keep the
 * frames the stack queued behind the stopped queue (in the qdisc) for good,
 * and each of them holds its socket, and the socket its network namespace:
 * `ip netns del` would never tear the namespace down.  With the carrier off
 * the core drops what its qdisc holds (dev_deactivate()), as for a cable
 * pulled; the frames in the ring wait, orphaned (vnet_start_xmit()).  The
 * same time as the stack's watchdog for the simulated NIC.
 */
#define VNET_BE_STALL_NS	(5 * NSEC_PER_SEC)

struct vnet_backend {
	struct vnet_priv __rcu *priv;	/* NULL: never bound, or the device is gone */
	bool bound;			/* was bound: -ENXIO rather than -EBADFD (RTNL) */
	bool live;			/* the rings run (start .. stop): written under both locks */
	spinlock_t tx_lock;		/* a read's take against start/stop */
	spinlock_t rx_lock;		/* a write's put against start/stop */
	struct mutex read_mutex;	/* one reader at a time: it owns rbuf */
	struct mutex write_mutex;	/* one writer at a time: it owns wbuf */
	u8 *rbuf, *wbuf;
	wait_queue_head_t wq;		/* readers, writers and poll() */
	struct hrtimer rx_irq;		/* the RX interrupt, moderated by rx-usecs */
	struct hrtimer wake_timer;	/* the reader's delayed wake (doorbell coalescing) */
	struct hrtimer stall_timer;	/* looks for a reader that stopped (VNET_BE_STALL_NS) */
	u32 stall_sent;			/* tx.sent when the stall timer was armed */
	bool stalled;			/* the reader stalled: carrier off until it reads */
	struct rcu_head rcu;
};

static struct vnet_priv *vnet_be_priv_locked(struct vnet_backend *be)
{
	return rcu_dereference_protected(be->priv, lockdep_is_held(&be->tx_lock) ||
					 lockdep_is_held(&be->rx_lock));
}

/* What a call on a file without a device gets. */
static int vnet_be_unbound_err(struct vnet_backend *be)
{
	return READ_ONCE(be->bound) ? -ENXIO : -EBADFD;
}

/* ---- the hardware operations (the device's side) ----------------------- */

static void vnet_be_wake(struct vnet_priv *priv, __poll_t events)
{
	struct vnet_backend *be;

	rcu_read_lock();
	be = rcu_dereference(priv->be);
	/* wq_has_sleeper() orders the ring update before the look at the queue. */
	if (be && wq_has_sleeper(&be->wq))
		wake_up_interruptible_poll(&be->wq, events);
	rcu_read_unlock();
}

/*
 * Frames waited VNET_BE_STALL_NS: if the reader took none of them meanwhile,
 * the link is down.  Else look again a period later, while frames wait.
 */
static enum hrtimer_restart vnet_be_stall_timer(struct hrtimer *t)
{
	struct vnet_backend *be = container_of(t, struct vnet_backend, stall_timer);
	struct vnet_priv *priv;
	u32 sent;

	/*
	 * Under tx_lock, so that a read cannot take a frame between our look
	 * and the carrier going off (its carrier_on would come first).  Only
	 * tried: the reader holds it in process context with BHs on, and a
	 * reader inside it is no stalled reader anyway.
	 */
	if (!spin_trylock(&be->tx_lock))
		goto again;
	/*
	 * Pairs with the doorbell's barrier (vnet_be_tx_kick()): our timer
	 * is no longer "queued" before we read head, so either the doorbell
	 * sees us unqueued and re-arms, or we see its frame.
	 */
	smp_mb();
	priv = vnet_be_priv_locked(be);
	if (!priv || !be->live) {
		spin_unlock(&be->tx_lock);
		return HRTIMER_NORESTART;
	}
	sent = priv->queue[0]->tx.sent;
	if (sent == smp_load_acquire(&priv->queue[0]->tx.head)) {
		spin_unlock(&be->tx_lock);
		return HRTIMER_NORESTART;	/* nothing waits: the next doorbell arms us */
	}
	/*
	 * Already stalled: a doorbell may have re-armed us while we ran (the
	 * timer is not "queued" then).  The stall is counted once.
	 */
	if (be->stalled) {
		spin_unlock(&be->tx_lock);
		return HRTIMER_NORESTART;
	}
	if (sent == READ_ONCE(be->stall_sent)) {
		spin_lock(&priv->carrier_lock);
		WRITE_ONCE(be->stalled, true);
		netif_carrier_off(priv->dev);
		spin_unlock(&priv->carrier_lock);
		atomic64_inc(&priv->be_stats.tx_stalls);
		spin_unlock(&be->tx_lock);
		return HRTIMER_NORESTART;
	}
	WRITE_ONCE(be->stall_sent, sent);
	spin_unlock(&be->tx_lock);
again:
	/*
	 * Not hrtimer_forward_now(): a doorbell may hrtimer_start() us while
	 * we run, and only hrtimer_start() is serialized against that.
	 */
	hrtimer_start(t, ns_to_ktime(VNET_BE_STALL_NS), HRTIMER_MODE_REL_SOFT);
	return HRTIMER_NORESTART;
}

/* Frames wait for the reader: watch for one that stops taking them. */
static void vnet_be_watch_stall(struct vnet_backend *be, struct vnet_priv *priv)
{
	if (!hrtimer_is_queued(&be->stall_timer) && !READ_ONCE(be->stalled)) {
		WRITE_ONCE(be->stall_sent, READ_ONCE(priv->queue[0]->tx.sent));
		hrtimer_start(&be->stall_timer, ns_to_ktime(VNET_BE_STALL_NS),
			      HRTIMER_MODE_REL_SOFT);
	}
}

static enum hrtimer_restart vnet_be_wake_timer(struct hrtimer *t)
{
	struct vnet_backend *be = container_of(t, struct vnet_backend, wake_timer);

	wake_up_interruptible_poll(&be->wq, EPOLLIN | EPOLLRDNORM);
	return HRTIMER_NORESTART;
}

/*
 * RTNL held (vnet_resume, before the queue wakes).  The reader starts at the
 * ring's tail: the quiesce before left tx.sent there (vnet_tx_purge()).
 */
static void vnet_be_start(struct vnet_priv *priv)
{
	struct vnet_backend *be = rtnl_dereference(priv->be);

	spin_lock(&be->tx_lock);
	spin_lock(&be->rx_lock);
	WRITE_ONCE(be->live, true);
	spin_unlock(&be->rx_lock);
	spin_unlock(&be->tx_lock);
	wake_up_interruptible_poll(&be->wq, EPOLLIN | EPOLLOUT);
}

/*
 * RTNL held (vnet_quiesce): once both locks were taken with live cleared, no
 * read or write touches the rings again, and the RX interrupt is off.
 */
static void vnet_be_stop(struct vnet_priv *priv)
{
	struct vnet_backend *be = rtnl_dereference(priv->be);

	spin_lock(&be->tx_lock);
	spin_lock(&be->rx_lock);
	WRITE_ONCE(be->live, false);
	spin_unlock(&be->rx_lock);
	spin_unlock(&be->tx_lock);
	hrtimer_cancel(&be->rx_irq);
	/* The TX queue is stopped under its lock before this: no kick re-arms these. */
	hrtimer_cancel(&be->wake_timer);
	hrtimer_cancel(&be->stall_timer);
	/* The quiesce's caller sets the carrier as the device goes on. */
	WRITE_ONCE(be->stalled, false);
	wake_up_interruptible_poll(&be->wq, EPOLLIN | EPOLLOUT);
}

/*
 * Frames were posted (the TX queue lock is held, head is published): wake a
 * sleeping reader now if a batch waits or the queue stopped, else soon.
 */
INDIRECT_CALLABLE_SCOPE void vnet_be_tx_kick(struct vnet_queue *q, u64 delay_ns)
{
	struct vnet_priv *priv = q->priv;
	struct netdev_queue *txq = netdev_get_tx_queue(priv->dev, q->index);
	struct vnet_backend *be;
	u32 waiting;

	rcu_read_lock();
	be = rcu_dereference(priv->be);
	if (!be)
		goto out;
	/*
	 * Frames wait: watch for a reader that stops (doorbells are serialized
	 * by the lock).  The barrier orders the head just published before the
	 * look at the timer, which clears its queued state before it reads
	 * head: it is seen queued, or it sees the new frame.
	 */
	smp_mb();
	vnet_be_watch_stall(be, priv);
	/* wq_has_sleeper() orders the ring update before the look at the queue. */
	if (!wq_has_sleeper(&be->wq))
		goto out;
	waiting = READ_ONCE(q->tx.head) - READ_ONCE(q->tx.sent);
	if (waiting >= VNET_BE_WAKE_BATCH || netif_xmit_stopped(txq))
		wake_up_interruptible_poll(&be->wq, EPOLLIN | EPOLLRDNORM);
	else if (!hrtimer_is_queued(&be->wake_timer))
		hrtimer_start(&be->wake_timer, ns_to_ktime(VNET_BE_WAKE_NS),
			      HRTIMER_MODE_REL_SOFT);
out:
	rcu_read_unlock();
}

/* Sent once the reader took it: slots before tx.sent. */
INDIRECT_CALLABLE_SCOPE u64 vnet_be_tx_pending(struct vnet_queue *q,
					       const struct vnet_tx_desc *d, u32 idx, u64 now)
{
	return (s32)(idx - smp_load_acquire(&q->tx.sent)) < 0 ? 0 : U64_MAX;
}

static void vnet_be_rx_room(struct vnet_queue *q)
{
	vnet_be_wake(q->priv, EPOLLOUT | EPOLLWRNORM);
}

/* The RX interrupt is the moderation timer a write armed (rx-usecs). */
static bool vnet_be_rx_irq_pending(struct vnet_queue *q)
{
	struct vnet_backend *be;
	bool pending;

	rcu_read_lock();
	be = rcu_dereference(q->priv->be);
	pending = be && hrtimer_active(&be->rx_irq);
	rcu_read_unlock();
	return pending;
}

const struct vnet_hw_ops vnet_backend_hw = {
	.name		= "backend",
	/*
	 * A full ring means a reader that does not read: a slow link partner
	 * (as one sending PAUSE frames), not a hung NIC.  The queue stays
	 * stopped for as long as the process likes; the watchdog only fires
	 * after a day, so that a paused process does not look like a broken
	 * driver.
	 */
	.watchdog_timeo	= 24 * 3600 * HZ,
	.start		= vnet_be_start,
	.stop		= vnet_be_stop,
	.tx_kick	= vnet_be_tx_kick,
	.tx_pending	= vnet_be_tx_pending,
	.rx_room	= vnet_be_rx_room,
	.rx_irq_pending	= vnet_be_rx_irq_pending,
};

/* The RX interrupt: hand the frames written so far to NAPI (softirq). */
static enum hrtimer_restart vnet_be_rx_irq(struct hrtimer *t)
{
	struct vnet_backend *be = container_of(t, struct vnet_backend, rx_irq);
	struct vnet_priv *priv;

	rcu_read_lock();
	priv = rcu_dereference(be->priv);
	if (priv)
		vnet_rx_irq_raise(priv->queue[0]);
	rcu_read_unlock();
	return HRTIMER_NORESTART;
}

/* Whether the bound reader stalled: the link is down for it (carrier_lock held). */
bool vnet_backend_stalled(struct vnet_priv *priv)
{
	struct vnet_backend *be;
	bool stalled;

	lockdep_assert_held(&priv->carrier_lock);
	rcu_read_lock();
	be = rcu_dereference(priv->be);
	stalled = be && READ_ONCE(be->stalled);
	rcu_read_unlock();
	return stalled;
}

/*
 * The device is being deleted (ndo_uninit, RTNL held; it is closed, so the
 * hardware was stopped).  The file stays open and gets -ENXIO from now on.
 */
void vnet_backend_detach(struct vnet_priv *priv)
{
	struct vnet_backend *be = rtnl_dereference(priv->be);

	if (!be)
		return;
	spin_lock(&be->tx_lock);
	spin_lock(&be->rx_lock);
	RCU_INIT_POINTER(be->priv, NULL);
	spin_unlock(&be->rx_lock);
	spin_unlock(&be->tx_lock);
	RCU_INIT_POINTER(priv->be, NULL);
	vnet_set_hw(priv, &vnet_sim_hw);
	/* The stop did these already: the device is closed. */
	hrtimer_cancel(&be->rx_irq);
	hrtimer_cancel(&be->wake_timer);
	hrtimer_cancel(&be->stall_timer);
	wake_up_interruptible_poll(&be->wq, EPOLLERR | EPOLLHUP);
}

/* ---- read: the NIC takes one frame off the TX ring ---------------------- */

/* tx_lock held: the length of the frame the reader gets next, 0 if none. */
static unsigned int vnet_be_next_len(struct vnet_backend *be)
{
	struct vnet_priv *priv = vnet_be_priv_locked(be);
	struct vnet_tx_desc *d;
	struct vnet_tx_ring *r;

	if (!priv || !be->live)
		return 0;
	r = &priv->queue[0]->tx;
	if (r->sent == smp_load_acquire(&r->head))
		return 0;
	d = &r->desc[r->sent & (r->size - 1)];
	return d->skb ? d->skb->len : d->xdpf->len;
}

/*
 * The reader took a frame, sent or too big to send: the link partner answers
 * again, so a stalled link is back.  Under tx_lock: before any stop.  The
 * watch starts again for the frames still waiting: with the queue stopped
 * no doorbell might come to start it.
 */
static void vnet_be_partner_alive(struct vnet_backend *be, struct vnet_priv *priv)
{
	if (unlikely(READ_ONCE(be->stalled))) {
		spin_lock_bh(&priv->carrier_lock);
		WRITE_ONCE(be->stalled, false);
		/* Unless the far end went away meanwhile (vnet_change_carrier()). */
		if (!priv->partner_down)
			netif_carrier_on(priv->dev);
		spin_unlock_bh(&priv->carrier_lock);
		if (priv->queue[0]->tx.sent != smp_load_acquire(&priv->queue[0]->tx.head))
			vnet_be_watch_stall(be, priv);
	}
}

/*
 * tx_lock held.  Copy the next frame into rbuf and mark it sent; its length,
 * or -EAGAIN (none waits), -EMSGSIZE (it does not fit ROOM bytes: it stays;
 * FIONREAD tells its length).
 */
static ssize_t vnet_be_take(struct vnet_backend *be, size_t room)
{
	struct vnet_priv *priv = vnet_be_priv_locked(be);
	struct vnet_tx_ring *r;
	struct vnet_tx_desc *d;
	unsigned int len;
	u32 sent;

	if (!priv)
		return vnet_be_unbound_err(be);
	if (!be->live)
		return -EAGAIN;
	r = &priv->queue[0]->tx;
	sent = r->sent;
	/* Pairs with xmit's release of head: the descriptor is written. */
	if (sent == smp_load_acquire(&r->head))
		return -EAGAIN;
	d = &r->desc[sent & (r->size - 1)];
	len = d->skb ? d->skb->len : d->xdpf->len;
	if (unlikely(len > VNET_BE_BUF)) {
		/* Redirected beyond any MTU: the "wire" cannot carry it. */
		net_warn_ratelimited("%s: %u-byte frame dropped: too large for /dev/vnet\n",
				     priv->dev->name, len);
		atomic64_inc(&priv->be_stats.tx_too_big);
		/* Freed by the completion as a drop, not as a frame sent. */
		d->dropped = 1;
		smp_store_release(&r->sent, sent + 1);
		vnet_be_partner_alive(be, priv);
		vnet_tx_irq_arm(priv->queue[0], 0);
		return -EAGAIN;
	}
	if (len > room)
		return -EMSGSIZE;
	if (d->skb)
		skb_copy_bits(d->skb, 0, be->rbuf, len);
	else
		memcpy(be->rbuf, d->xdpf->data, len);
	/* The copy is done before the completion can free the frame. */
	smp_store_release(&r->sent, sent + 1);
	atomic64_inc(&priv->be_stats.tx_read);
	vnet_be_partner_alive(be, priv);
	/* Sent: the TX-done interrupt, tx-usecs from now (interrupt moderation). */
	vnet_tx_irq_arm(priv->queue[0], vnet_tx_moderation_ns(priv));
	return len;
}

static bool vnet_be_readable(struct vnet_backend *be)
{
	struct vnet_priv *priv;
	bool ready;

	rcu_read_lock();
	priv = rcu_dereference(be->priv);
	ready = !priv || (READ_ONCE(be->live) &&
			  READ_ONCE(priv->queue[0]->tx.sent) != smp_load_acquire(&priv->queue[0]->tx.head));
	rcu_read_unlock();
	return ready;
}

/* O_NONBLOCK, or a caller that must not wait this once (RWF_NOWAIT, io_uring). */
static bool vnet_be_nonblock(struct kiocb *iocb)
{
	return (iocb->ki_filp->f_flags & O_NONBLOCK) ||
	       (iocb->ki_flags & IOCB_NOWAIT);
}

/* One caller at a time per direction; a non-blocking one does not queue behind it. */
static int vnet_be_lock(struct mutex *m, struct kiocb *iocb)
{
	if (vnet_be_nonblock(iocb))
		return mutex_trylock(m) ? 0 : -EAGAIN;
	return mutex_lock_interruptible(m) ? -ERESTARTSYS : 0;
}

static ssize_t vnet_be_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct vnet_backend *be = iocb->ki_filp->private_data;
	ssize_t ret;

	/* read(2) of 0 bytes: the errors a read would get, else 0; no frame moves. */
	if (!iov_iter_count(to)) {
		rcu_read_lock();
		ret = rcu_dereference(be->priv) ? 0 : vnet_be_unbound_err(be);
		rcu_read_unlock();
		return ret;
	}
	ret = vnet_be_lock(&be->read_mutex, iocb);
	if (ret)
		return ret;
	for (;;) {
		spin_lock(&be->tx_lock);
		ret = vnet_be_take(be, iov_iter_count(to));
		spin_unlock(&be->tx_lock);
		if (ret != -EAGAIN || vnet_be_nonblock(iocb))
			break;
		ret = wait_event_interruptible(be->wq, vnet_be_readable(be));
		if (ret)
			break;
	}
	/* The frame is the reader's now: a faulting buffer loses only it. */
	if (ret > 0 && copy_to_iter(be->rbuf, ret, to) != ret)
		ret = -EFAULT;
	mutex_unlock(&be->read_mutex);
	return ret;
}

/* ---- write: the NIC writes one received frame into the RX ring ---------- */

/*
 * rx_lock held.  Put the LEN bytes in wbuf into the next RX buffer and raise
 * the RX interrupt (rx-usecs from now, unless it is pending already).
 * *FULL_SEEN: this write already counted a full ring once.
 */
static ssize_t vnet_be_put(struct vnet_backend *be, size_t len, bool *full_seen)
{
	struct vnet_priv *priv = vnet_be_priv_locked(be);
	struct vnet_rx_ring *r;
	struct vnet_rx_slot *s;

	if (!priv)
		return vnet_be_unbound_err(be);
	/* Stopped: down, or opening or rebuilding its rings (wait for the start). */
	if (!be->live)
		return READ_ONCE(priv->resume_pending) ? -EAGAIN : -ENETDOWN;
	r = &priv->queue[0]->rx;
	/* The MTU may have grown since the check: the buffer is what counts. */
	if (len > VNET_RX_MAX_FRAME(r->order)) {
		atomic64_inc(&priv->be_stats.rx_length_errors);
		return -EINVAL;
	}
	/* Pairs with the poll's release of tail: that slot's page is ours again. */
	if (r->head - smp_load_acquire(&r->tail) >= r->size) {
		if (!*full_seen)
			atomic64_inc(&priv->be_stats.rx_ring_full);
		*full_seen = true;
		return -EAGAIN;
	}
	s = &r->slot[r->head & (r->size - 1)];
	memcpy(page_address(s->page) + VNET_RX_HEADROOM, be->wbuf, len);
	s->len = len;
	/* One queue, so no RSS: the frame goes up without a hash. */
	s->hash_type = PKT_HASH_TYPE_NONE;
	/* The frame is written before the poll can see the new head. */
	smp_store_release(&r->head, r->head + 1);
	atomic64_inc(&priv->be_stats.rx_written);
	/*
	 * An interrupt already pending covers this frame too.  The barrier
	 * orders the head store before the look at the timer: a timer that has
	 * just fired either polls with our frame or is seen gone and re-armed.
	 */
	smp_mb();
	/* LESSON 11 TODO: raise the RX interrupt rx-usecs from now, unless one is pending */
	if (!hrtimer_is_queued(&be->rx_irq))
		hrtimer_start(&be->rx_irq,
			      ns_to_ktime((u64)READ_ONCE(priv->rx_usecs) * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_SOFT);
	/* LESSON 11 END */
	return len;
}

static bool vnet_be_writable(struct vnet_backend *be)
{
	struct vnet_priv *priv;
	bool ready;

	rcu_read_lock();
	priv = rcu_dereference(be->priv);
	if (!priv)
		ready = true;	/* the write fails at once */
	else if (!READ_ONCE(be->live))
		/* Down fails at once; an open or a rebuild is waited out. */
		ready = !READ_ONCE(priv->resume_pending);
	else
		ready = READ_ONCE(priv->queue[0]->rx.head) - smp_load_acquire(&priv->queue[0]->rx.tail) <
			READ_ONCE(priv->queue[0]->rx.size);
	rcu_read_unlock();
	return ready;
}

/*
 * if_link.h: a frame with a bad length is an rx_length_error.  Checked before
 * anything is copied, against the MTU as it is now.  The longest frame is the
 * MTU plus the Ethernet header and one VLAN tag, as the core's
 * is_skb_forwardable() allows: a VLAN device over vnet has the same MTU, so
 * its full-size frames are 4 bytes longer.
 */
static int vnet_be_check_len(struct vnet_backend *be, size_t len)
{
	struct vnet_priv *priv;
	int err = 0;

	rcu_read_lock();
	priv = rcu_dereference(be->priv);
	if (!priv) {
		err = vnet_be_unbound_err(be);
	} else if (len < ETH_HLEN ||
		   len > READ_ONCE(priv->dev->mtu) + ETH_HLEN + VLAN_HLEN) {
		atomic64_inc(&priv->be_stats.rx_length_errors);
		err = -EINVAL;
	}
	rcu_read_unlock();
	return err;
}

static ssize_t vnet_be_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct vnet_backend *be = iocb->ki_filp->private_data;
	size_t len = iov_iter_count(from);
	bool full_seen = false;
	ssize_t ret = vnet_be_lock(&be->write_mutex, iocb);

	if (ret)
		return ret;
	ret = vnet_be_check_len(be, len);
	if (ret)
		goto out;
	if (!copy_from_iter_full(be->wbuf, len, from)) {
		ret = -EFAULT;
		goto out;
	}
	for (;;) {
		spin_lock(&be->rx_lock);
		ret = vnet_be_put(be, len, &full_seen);
		spin_unlock(&be->rx_lock);
		if (ret != -EAGAIN || vnet_be_nonblock(iocb))
			break;
		ret = wait_event_interruptible(be->wq, vnet_be_writable(be));
		if (ret)
			break;
	}
out:
	mutex_unlock(&be->write_mutex);
	return ret;
}

/* ---- poll, bind, open, release ----------------------------------------- */

static __poll_t vnet_be_poll(struct file *file, poll_table *wait)
{
	struct vnet_backend *be = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &be->wq, wait);
	/* Only a test for NULL here; the two checks below read it under RCU. */
	if (!rcu_access_pointer(be->priv))
		return READ_ONCE(be->bound) ? EPOLLERR | EPOLLHUP : EPOLLERR;
	if (vnet_be_readable(be))
		mask |= EPOLLIN | EPOLLRDNORM;
	/* Down: a write fails at once with -ENETDOWN, it does not wait. */
	if (vnet_be_writable(be))
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

/*
 * Point the file at the device, under both of the file's locks (see
 * vnet_be_take()); vnet_be_bind() then points the device at the file.
 */
static void vnet_be_set_priv(struct vnet_backend *be, struct vnet_priv *priv)
{
	spin_lock(&be->tx_lock);
	spin_lock(&be->rx_lock);
	rcu_assign_pointer(be->priv, priv);
	spin_unlock(&be->rx_lock);
	spin_unlock(&be->tx_lock);
}

static long vnet_be_bind(struct file *file, struct vnet_bind __user *arg)
{
	struct vnet_backend *be = file->private_data;
	struct net_device *dev;
	struct vnet_priv *priv;
	struct vnet_bind b;
	long err = 0;

	if (copy_from_user(&b, arg, sizeof(b)))
		return -EFAULT;
	if (b.flags || !memchr(b.ifname, 0, sizeof(b.ifname)))
		return -EINVAL;

	rtnl_lock();
	/* One device per file, once: as TUNSETIFF on an attached tun file. */
	if (be->bound) {
		err = -EINVAL;
		goto out;
	}
	dev = __dev_get_by_name(current->nsproxy->net_ns, b.ifname);
	if (!dev) {
		err = -ENODEV;
		goto out;
	}
	/*
	 * The device's own netns admin, as ip link would need: both the
	 * process that opened the file and the one binding it, so that a file
	 * handed to a privileged process cannot bind what its opener may not.
	 */
	if (!file_ns_capable(file, dev_net(dev)->user_ns, CAP_NET_ADMIN) ||
	    !ns_capable(dev_net(dev)->user_ns, CAP_NET_ADMIN)) {
		err = -EPERM;
		goto out;
	}
	if (!vnet_is_vnet(dev)) {
		err = -EINVAL;
		goto out;
	}
	priv = netdev_priv(dev);
	if (rtnl_dereference(priv->be)) {
		err = -EBUSY;
		goto out;
	}
	/*
	 * A file carries queue pair 0, so the device must run on that one
	 * alone (ethtool -L DEV combined 1): frames the stack put on another
	 * TX queue would never reach the reader.  ethtool -L keeps it so
	 * while the file is bound (vnet_set_num_queues()).
	 */
	if (priv->num_queues != 1) {
		err = -EOPNOTSUPP;
		goto out;
	}
	b.ifindex = dev->ifindex;
	vnet_be_set_priv(be, priv);
	WRITE_ONCE(be->bound, true);
	rcu_assign_pointer(priv->be, be);
	/* The generator stops, frames still with the simulated NIC are dropped. */
	vnet_hw_switch(priv, &vnet_backend_hw);
	netdev_info(dev, "bound to /dev/vnet (pid %d)\n", task_pid_nr(current));
out:
	rtnl_unlock();
	if (!err && copy_to_user(arg, &b, sizeof(b)))
		err = -EFAULT;
	return err;
}

static long vnet_be_get_bind(struct vnet_backend *be, struct vnet_bind __user *arg)
{
	struct vnet_priv *priv;
	struct vnet_bind b = {};
	long err = 0;

	rtnl_lock();
	priv = rtnl_dereference(be->priv);
	if (priv) {
		strscpy(b.ifname, priv->dev->name, sizeof(b.ifname));
		b.ifindex = priv->dev->ifindex;
	} else {
		err = vnet_be_unbound_err(be);
	}
	rtnl_unlock();
	if (!err && copy_to_user(arg, &b, sizeof(b)))
		err = -EFAULT;
	return err;
}

static long vnet_be_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vnet_backend *be = file->private_data;

	switch (cmd) {
	case VNET_BIND:
		return vnet_be_bind(file, (struct vnet_bind __user *)arg);
	case VNET_GET_BIND:
		return vnet_be_get_bind(be, (struct vnet_bind __user *)arg);
	case FIONREAD: {
		int len;

		spin_lock(&be->tx_lock);
		len = vnet_be_next_len(be);
		spin_unlock(&be->tx_lock);
		return put_user(len, (int __user *)arg);
	}
	default:
		return -ENOTTY;
	}
}

static int vnet_be_open(struct inode *inode, struct file *file)
{
	/* Charged to the opener's memory cgroup, as a socket's buffers are. */
	struct vnet_backend *be = kzalloc(sizeof(*be), GFP_KERNEL_ACCOUNT);

	if (!be)
		return -ENOMEM;
	be->rbuf = kvmalloc(VNET_BE_BUF, GFP_KERNEL_ACCOUNT);
	be->wbuf = kvmalloc(VNET_BE_BUF, GFP_KERNEL_ACCOUNT);
	if (!be->rbuf || !be->wbuf) {
		kvfree(be->rbuf);
		kvfree(be->wbuf);
		kfree(be);
		return -ENOMEM;
	}
	spin_lock_init(&be->tx_lock);
	spin_lock_init(&be->rx_lock);
	mutex_init(&be->read_mutex);
	mutex_init(&be->write_mutex);
	init_waitqueue_head(&be->wq);
	vnet_hrtimer_setup(&be->rx_irq, vnet_be_rx_irq, CLOCK_MONOTONIC,
			   HRTIMER_MODE_REL_SOFT);
	vnet_hrtimer_setup(&be->wake_timer, vnet_be_wake_timer, CLOCK_MONOTONIC,
			   HRTIMER_MODE_REL_SOFT);
	vnet_hrtimer_setup(&be->stall_timer, vnet_be_stall_timer, CLOCK_MONOTONIC,
			   HRTIMER_MODE_REL_SOFT);
	file->private_data = be;
	/* read and write honour IOCB_NOWAIT: io_uring may try them inline. */
	file->f_mode |= FMODE_NOWAIT;
	/* A stream of frames: no file position, no seeking. */
	return stream_open(inode, file);
}

/*
 * The last reference to the file is gone: give the device back its simulated
 * hardware.  Frames still queued for the reader are dropped and counted
 * (tx_purged, tx_dropped) by the quiesce that the switch does.
 */
static int vnet_be_release(struct inode *inode, struct file *file)
{
	struct vnet_backend *be = file->private_data;
	struct vnet_priv *priv;

	rtnl_lock();
	priv = rtnl_dereference(be->priv);
	if (priv) {
		/*
		 * The process was the link partner (vnet-wire sets the carrier
		 * from the far end); the simulated NIC's is always there.  Also
		 * when the process was killed and could not say so itself.
		 */
		spin_lock_bh(&priv->carrier_lock);
		WRITE_ONCE(priv->partner_down, false);
		spin_unlock_bh(&priv->carrier_lock);
		vnet_hw_switch(priv, &vnet_sim_hw);
		vnet_be_set_priv(be, NULL);
		RCU_INIT_POINTER(priv->be, NULL);
		netdev_info(priv->dev, "/dev/vnet closed: simulated hardware again\n");
	}
	rtnl_unlock();
	hrtimer_cancel(&be->rx_irq);
	hrtimer_cancel(&be->wake_timer);
	hrtimer_cancel(&be->stall_timer);
	mutex_destroy(&be->read_mutex);
	mutex_destroy(&be->write_mutex);
	kvfree(be->rbuf);
	kvfree(be->wbuf);
	/* The device's data paths may still be looking at be (vnet_be_wake()). */
	kfree_rcu(be, rcu);
	return 0;
}

static const struct file_operations vnet_be_fops = {
	.owner		= THIS_MODULE,
	.open		= vnet_be_open,
	.release	= vnet_be_release,
	.read_iter	= vnet_be_read_iter,
	.write_iter	= vnet_be_write_iter,
	.poll		= vnet_be_poll,
	.unlocked_ioctl	= vnet_be_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice vnet_be_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "vnet",
	.nodename	= "vnet",
	/* root only: binding also needs CAP_NET_ADMIN over the device. */
	.mode		= 0600,
	.fops		= &vnet_be_fops,
};

int vnet_backend_init(void)
{
	return misc_register(&vnet_be_misc);
}

void vnet_backend_exit(void)
{
	misc_deregister(&vnet_be_misc);
}
