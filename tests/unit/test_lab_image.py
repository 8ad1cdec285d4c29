import subprocess

from vnet_ebpf.lab import cache, image
from vnet_ebpf.lab.guests import GUESTS

DEB822 = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://other.example/node
Suites: nodistro
Components: main

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm
"""

ONE_LINE = """\
# comment
deb [arch=amd64] http://m.example/debian bookworm main contrib
deb http://m.example/debian bookworm-updates main
deb http://elsewhere.example/x jammy main
"""


def E(uri: str, suite: str) -> image.AptEntry:
    return image.AptEntry(uri, suite)


def test_deb822_entries() -> None:
    assert image.host_apt_entries(DEB822) == [
        E("http://mirror.example/debian", "bookworm"),
        E("http://mirror.example/debian", "bookworm-updates"),
        E("http://mirror.example/debian-security", "bookworm-security"),
        E("https://other.example/node", "nodistro"),
    ]


def test_one_line_entries() -> None:
    assert image.host_apt_entries(ONE_LINE) == [
        E("http://m.example/debian", "bookworm"),
        E("http://m.example/debian", "bookworm-updates"),
        E("http://elsewhere.example/x", "jammy"),
    ]


def test_host_debian_mirrors() -> None:
    assert image.host_debian_mirrors(DEB822) == ("http://mirror.example/debian", "http://mirror.example/debian-security")
    assert image.host_debian_mirrors(ONE_LINE) == ("http://m.example/debian", None)
    assert image.host_debian_mirrors("deb http://archive.example/ubuntu jammy main\n") == (None, None)
    old = "deb http://a.example/debian/ buster main\ndeb http://s.example/debian-security buster/updates main\n"
    assert image.host_debian_mirrors(old) == ("http://a.example/debian", "http://s.example/debian-security")


def test_trixie_lines_come_from_a_bookworm_hosts_mirrors() -> None:
    assert image.mirror_args(GUESTS["trixie"], env={}, apt_text=DEB822) == [
        "deb http://mirror.example/debian trixie main",
        "deb http://mirror.example/debian trixie-updates main",
        "deb http://mirror.example/debian-security trixie-security main",
    ]
    assert image.mirror_args(GUESTS["trixie-backports"], env={}, apt_text=DEB822) == [
        "deb http://mirror.example/debian trixie main",
        "deb http://mirror.example/debian trixie-updates main",
        "deb http://mirror.example/debian-security trixie-security main",
        "deb http://mirror.example/debian trixie-backports main",
    ]
    assert image.mirror_args(GUESTS["bookworm"], env={}, apt_text=DEB822) == [
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
        "deb http://mirror.example/debian-security bookworm-security main",
    ]


def test_mirror_override_and_fallback() -> None:
    env = {"VNET_LAB_MIRROR": "http://local.example/debian/"}
    assert image.mirror_args(GUESTS["trixie-backports"], env=env, apt_text=DEB822) == [
        "deb http://local.example/debian trixie main",
        "deb http://local.example/debian trixie-updates main",
        "deb http://local.example/debian trixie-backports main",
    ]
    # Not a Debian host: Debian's own mirrors.
    assert image.mirror_args(GUESTS["trixie"], env={}, apt_text="deb http://x.example/ubuntu jammy main\n") == [
        "deb http://deb.debian.org/debian trixie main",
        "deb http://deb.debian.org/debian trixie-updates main",
        "deb http://deb.debian.org/debian-security trixie-security main",
    ]


def _packages(*args: str) -> list[str]:
    script = cache.GUEST_DIR / "provision.sh"
    return subprocess.run(["sh", str(script), "--list-packages", *args], capture_output=True, text=True,
                          check=True).stdout.split()


def test_provision_package_list() -> None:
    plain = _packages()
    assert plain[:3] == ["linux-image-amd64", "linux-headers-amd64", "initramfs-tools"]
    assert {"python3-yaml", "dkms", "python3-bpfcc", "bpftrace", "xz-utils"} <= set(plain)
    assert "iperf3" in plain  # demo --wire and the wire tests run TCP through vnet-wire
    bpo = _packages("--kernel-suite", "trixie-backports")
    assert bpo[:2] == ["linux-image-amd64/trixie-backports", "linux-headers-amd64/trixie-backports"]
    assert bpo[2:] == plain[2:]


def test_missing_tools_names_packages() -> None:
    assert image.missing_tools({"definitely-not-a-tool-xyz": "pkg-a", "sh": "dash"}) == ["pkg-a"]
