"""vnet-ebpf: an eBPF/XDP-assisted companion for the vnet virtual NIC driver.

The version is the package's own (pyproject.toml), as --version prints it."""
