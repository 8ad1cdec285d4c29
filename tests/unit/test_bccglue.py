"""The flags BCC gets for the kernel it compiles against (pure: no BCC needed)."""

import subprocess
import sys
import zipfile
from pathlib import Path

from vnet_ebpf.probes import bccglue


def test_bcc_gets_the_flags_newer_kernel_headers_need() -> None:
    assert bccglue.kernel_cflags("6.1.0-56-amd64") == []
    assert bccglue.kernel_cflags("6.12.118+deb13-amd64") == []
    assert bccglue.kernel_cflags("6.19.0") == ["-fms-extensions", "-D_LINUX_BPF_H"]
    assert bccglue.kernel_cflags("7.3.4+deb13-amd64") == ["-fms-extensions", "-D_LINUX_BPF_H"]


def test_sources_come_from_the_checkout_else_from_the_wheel(tmp_path: Path) -> None:
    pkg = tmp_path / "site-packages" / "vnet_ebpf"
    (pkg / "_sources" / "bpf").mkdir(parents=True)
    assert bccglue.sources_dir(pkg) == pkg / "_sources"  # installed: no checkout around it
    checkout = tmp_path / "src"
    (checkout / "bpf").mkdir(parents=True)
    (checkout / "kmod").mkdir()
    (checkout / "bpf" / "vnet_trace.bpf.c").write_text("")
    (checkout / "kmod" / "vnet.h").write_text("")
    assert bccglue.sources_dir(checkout / "vnet_ebpf") == checkout


def test_the_wheel_carries_the_programs_and_headers(tmp_path: Path) -> None:
    """Build the wheel (setuptools from this machine, no network) and look inside."""
    top = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(top)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("vnet_ebpf-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in [*top.glob("bpf/*.bpf.c"), *top.glob("kmod/*.h")]:
        assert f"vnet_ebpf/_sources/{f.parent.name}/{f.name}" in names
    assert "vnet_ebpf/lab/guest/init.sh" in names
