"""Compile bpf/vnet_xdp.bpf.c, attach it to a device, read its counters, detach it.

Attaching and detaching go through rtnetlink (pyroute2), not BCC, for two
reasons: the kernel's extack message (e.g. the driver's MTU refusal) reaches
the user, and the detach is conditional (``XDP_FLAGS_REPLACE`` with our program
as the expected one), so we never remove a program someone else put there.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from dataclasses import dataclass

from vnet_ebpf.errors import UserError
from vnet_ebpf.model import XDP_ACTIONS, XDP_CLASSES, XdpSnapshot
from vnet_ebpf.probes import bccglue, bpfstats, device

SOURCE = "vnet_xdp.bpf.c"
# include/uapi/linux/if_link.h
XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2
XDP_FLAGS_REPLACE = 1 << 4
MODE_FLAGS = {"native": XDP_FLAGS_DRV_MODE, "generic": XDP_FLAGS_SKB_MODE}
#: IFLA_XDP_ATTACHED as pyroute2 names it -> our mode names.
ATTACHED_MODES = {"xdp": "native", "xdpgeneric": "generic", "xdpoffload": "offload", "xdpmulti": "several modes"}
ACTION_CODES = {"pass": 2, "tx": 3, "redirect": 4}
#: Index of (ARP, action) in the program's verdicts array: class-major, like the BPF code.
XDP_ACTIONS_INDEX = {a: i for i, a in enumerate(XDP_ACTIONS)}


@dataclass(frozen=True)
class XdpConfig:
    """What the program does: drop rules first, then ACTION for the frames they keep."""

    mode: str = "native"
    drop_arp: bool = False
    drop_every: int = 0
    action: str = "pass"  # pass | tx | redirect
    redirect: str | None = None
    force: bool = False

    def cflags(self) -> list[str]:
        return [f"-DDROP_ARP={int(self.drop_arp)}", f"-DDROP_EVERY={self.drop_every}",
                f"-DACTION={ACTION_CODES[self.action]}"]


@dataclass(frozen=True)
class Attached:
    """The XDP program a link has now, if any."""

    mode: str | None
    prog_id: int


def attached(ifindex: int) -> Attached:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        (link,) = tuple(ipr.link("get", index=ifindex))
    info = link.get_attr("IFLA_XDP")
    mode = info.get_attr("IFLA_XDP_ATTACHED") if info else None
    prog_id = (info.get_attr("IFLA_XDP_PROG_ID") if info else None) or 0
    return Attached(ATTACHED_MODES.get(mode, mode) if mode else None, int(prog_id))


def _netlink_message(err: Exception) -> str:
    """The kernel's extack message when pyroute2 passes one on, else the errno text."""
    code = getattr(err, "code", 0)
    args: tuple[object, ...] = tuple(getattr(err, "args", ()))
    text = str(args[1]) if len(args) > 1 and args[1] else os.strerror(code) if code else str(err)
    return text.rstrip(".")


def set_xdp(ifindex: int, attrs: list[tuple[str, int]]) -> None:
    from pyroute2 import IPRoute

    with IPRoute(ext_ack=True) as ipr:
        ipr.link("set", index=ifindex, xdp={"attrs": attrs})


class XdpProgram(bccglue.Loaded):
    """Our XDP program on one device; a context manager, so it is always detached."""

    def __init__(self, dev: device.Device, cfg: XdpConfig) -> None:
        super().__init__()
        self.dev = dev
        self.cfg = cfg
        self.fd = -1
        self.prog_id = 0
        self.is_attached = False
        #: The driver's counters just before the attach: "since attach" starts there.
        self.before: dict[str, int] = {}
        self.target_ifindex = 0
        if cfg.redirect:
            self.target_ifindex = device.ifindex_of(cfg.redirect)

    def __enter__(self) -> XdpProgram:
        try:
            self._attach()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _attach(self) -> None:
        bcc = bccglue.import_bcc()
        self.bpf = bccglue.load(SOURCE, self.cfg.cflags())
        self.fd = int(self.bpf.load_func("vnet_xdp", bcc.BPF.XDP).fd)
        self.info = bpfstats.ProgInfo(self.fd)
        self.prog_id = self.info.id()
        if self.target_ifindex:
            self.bpf["redirect_to"][ctypes.c_int(0)] = ctypes.c_int(self.target_ifindex)
        self.stats_fd = bpfstats.enable_stats()
        self.ethtool = device.DriverStats(self.dev)
        self.files = device.DeviceFiles(self.dev)

        name, mode = self.dev.name, self.cfg.mode
        self.before = self.ethtool.read()
        now = attached(self.dev.ifindex)
        if now.mode and now.mode != mode:
            raise UserError(f"{name} already has a {now.mode} XDP program (id {now.prog_id}); native and "
                            f"generic cannot both be attached: remove it first (ip link set {name} xdp off)")
        if now.mode and not self.cfg.force:
            raise UserError(f"{name} already has an XDP program vnet-trace did not attach (id {now.prog_id}): "
                            "--force replaces it")
        flags = MODE_FLAGS[mode] | (0 if self.cfg.force else XDP_FLAGS_UPDATE_IF_NOEXIST)
        try:
            set_xdp(self.dev.ifindex, [("IFLA_XDP_FD", self.fd), ("IFLA_XDP_FLAGS", flags)])
        except Exception as err:
            code = getattr(err, "code", 0)
            msg = _netlink_message(err)
            if code == errno.EOPNOTSUPP and mode == "native":
                raise UserError(f"native XDP is not available on {name} ({msg}): try --mode generic") from err
            if code == errno.EBUSY:
                raise UserError(f"{name} already has an XDP program vnet-trace did not attach: "
                                "--force replaces it") from err
            raise UserError(f"cannot attach XDP to {name}: {msg}") from err
        self.is_attached = True

    def close(self) -> None:
        """Detach our program, and only ours; then free the BPF objects."""
        if self.is_attached:
            self.is_attached = False
            attrs = [("IFLA_XDP_FD", -1), ("IFLA_XDP_FLAGS", MODE_FLAGS[self.cfg.mode] | XDP_FLAGS_REPLACE),
                     ("IFLA_XDP_EXPECTED_FD", self.fd)]
            try:
                set_xdp(self.dev.ifindex, attrs)
            except Exception as err:
                # ENODEV: the device is gone; EEXIST: someone replaced our program.
                if getattr(err, "code", 0) not in (errno.ENODEV, errno.EEXIST):
                    raise UserError(f"could not detach XDP from {self.dev.name}: {_netlink_message(err)}") from err
        self.release()

    def snapshot(self) -> XdpSnapshot:
        rows = bccglue.percpu_rows(self.bpf["verdicts"])
        n = len(XDP_ACTIONS)
        verdicts = {(c, a): int(sum(rows[ci * n + ai]))
                    for ci, c in enumerate(XDP_CLASSES) for ai, a in enumerate(XDP_ACTIONS)}
        return XdpSnapshot(
            t=time.monotonic(),
            wall=time.time(),
            verdicts=verdicts,
            driver=self.ethtool.read() if self.ethtool is not None else {},
            prog=self.info.stat(),
        )
