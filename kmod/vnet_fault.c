// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection and in-flight accounting, in debugfs as netdevsim keeps its
 * test knobs.  Debian's kernels have neither failslab nor error injection, so
 * the error paths of open, ring resize and MTU change are reached through the
 * driver's own points (enum vnet_fault):
 *
 *   echo "rx_pool 1" > /sys/kernel/debug/vnet/fault   # the next pool create fails
 *   echo "rx_refill 5" > ...                           # the next 5 refills fail
 *   echo "rx_pool 0" > ...                             # disarm
 *   cat /sys/kernel/debug/vnet/fault                   # point, armed, injected so far
 *
 * /sys/kernel/debug/vnet/objects counts what every vnet device holds now:
 * rings, page pools, RX queue infos and ring pages.  With every device down
 * each is 0; a leak shows as a number that does not come back.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include "vnet.h"

static const char * const vnet_fault_names[VNET_FAULT_NUM] = {
	[VNET_FAULT_TX_RING]	= "tx_ring",
	[VNET_FAULT_RX_RING]	= "rx_ring",
	[VNET_FAULT_RX_POOL]	= "rx_pool",
	[VNET_FAULT_RX_PAGE]	= "rx_page",
	[VNET_FAULT_RXQ]	= "rxq",
	[VNET_FAULT_RX_REFILL]	= "rx_refill",
	[VNET_FAULT_RX_SHORT]	= "rx_short",
};

static const char * const vnet_obj_names[VNET_OBJ_NUM] = {
	[VNET_OBJ_TX_RINGS]	= "tx_rings",
	[VNET_OBJ_RX_RINGS]	= "rx_rings",
	[VNET_OBJ_RX_PAGES]	= "rx_pages",
	[VNET_OBJ_POOLS]	= "page_pools",
	[VNET_OBJ_RXQS]		= "xdp_rxqs",
};

atomic_t vnet_fault_left[VNET_FAULT_NUM];
static atomic_long_t vnet_fault_injected[VNET_FAULT_NUM];
atomic_long_t vnet_objs[VNET_OBJ_NUM];
static struct dentry *vnet_debugfs;

/* Slow path of vnet_should_fail(): take one of the armed failures, if any is left. */
bool vnet_fault_hit(enum vnet_fault f)
{
	if (!atomic_add_unless(&vnet_fault_left[f], -1, 0))
		return false;
	atomic_long_inc(&vnet_fault_injected[f]);
	return true;
}

static int vnet_fault_show(struct seq_file *m, void *v)
{
	int f;

	seq_puts(m, "point armed injected\n");
	for (f = 0; f < VNET_FAULT_NUM; f++)
		seq_printf(m, "%s %d %ld\n", vnet_fault_names[f],
			   atomic_read(&vnet_fault_left[f]),
			   atomic_long_read(&vnet_fault_injected[f]));
	return 0;
}

static int vnet_fault_open(struct inode *inode, struct file *file)
{
	return single_open(file, vnet_fault_show, NULL);
}

/* "POINT [N]": fail the next N (default 1, 0 disarms) calls at POINT. */
static ssize_t vnet_fault_write(struct file *file, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	char buf[32], name[16];
	int f, n = 1, fields;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	fields = sscanf(buf, "%15s %d", name, &n);
	if (fields < 1 || n < 0)
		return -EINVAL;
	for (f = 0; f < VNET_FAULT_NUM; f++) {
		if (!strcmp(name, vnet_fault_names[f])) {
			atomic_set(&vnet_fault_left[f], n);
			return len;
		}
	}
	return -EINVAL;
}

static const struct file_operations vnet_fault_fops = {
	.owner		= THIS_MODULE,
	.open		= vnet_fault_open,
	.read		= seq_read,
	.write		= vnet_fault_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

static int vnet_objects_show(struct seq_file *m, void *v)
{
	int o;

	for (o = 0; o < VNET_OBJ_NUM; o++)
		seq_printf(m, "%s %ld\n", vnet_obj_names[o],
			   atomic_long_read(&vnet_objs[o]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vnet_objects);

/* Without debugfs the driver works the same; only the knobs are missing. */
void vnet_fault_init(void)
{
	vnet_debugfs = debugfs_create_dir(VNET_DRV_NAME, NULL);
	debugfs_create_file("fault", 0600, vnet_debugfs, NULL, &vnet_fault_fops);
	debugfs_create_file("objects", 0444, vnet_debugfs, NULL, &vnet_objects_fops);
}

void vnet_fault_exit(void)
{
	debugfs_remove_recursive(vnet_debugfs);
}
