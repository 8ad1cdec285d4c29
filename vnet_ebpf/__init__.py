"""vnet-ebpf: an eBPF/XDP-assisted companion for the vnet virtual NIC driver."""

__version__ = "0.1.0"
