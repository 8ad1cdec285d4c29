from vnet_ebpf.lab import image

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


def test_deb822_sources() -> None:
    assert image.host_apt_sources(DEB822) == [
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
        "deb http://mirror.example/debian-security bookworm-security main",
    ]


def test_one_line_sources() -> None:
    assert image.host_apt_sources(ONE_LINE) == [
        "deb http://m.example/debian bookworm main",
        "deb http://m.example/debian bookworm-updates main",
    ]


def test_no_debian_sources() -> None:
    assert image.host_apt_sources("deb http://archive.example/ubuntu jammy main\n") == []


def test_missing_tools_names_packages() -> None:
    assert image.missing_tools({"definitely-not-a-tool-xyz": "pkg-a", "sh": "dash"}) == ["pkg-a"]
