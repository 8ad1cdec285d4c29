"""The flags BCC gets for the kernel it compiles against (pure: no BCC needed)."""

from vnet_ebpf.probes import bccglue


def test_bcc_gets_the_flags_newer_kernel_headers_need() -> None:
    assert bccglue.kernel_cflags("6.1.0-56-amd64") == []
    assert bccglue.kernel_cflags("6.12.118+deb13-amd64") == []
    assert bccglue.kernel_cflags("6.19.0") == ["-fms-extensions", "-D_LINUX_BPF_H"]
    assert bccglue.kernel_cflags("7.3.4+deb13-amd64") == ["-fms-extensions", "-D_LINUX_BPF_H"]
