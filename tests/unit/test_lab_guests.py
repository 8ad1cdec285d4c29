"""The guest catalog, how --guest / $VNET_LAB_GUEST pick one, and the unknown-name error."""

import pytest
from click.testing import CliRunner

from vnet_ebpf.lab import cli as lab_cli
from vnet_ebpf.lab import guests
from vnet_ebpf.lab import image as image_mod
from vnet_ebpf.lab.guests import Guest

UNKNOWN_FOO = "vnet-lab: unknown guest 'foo'; known guests: bookworm, trixie, trixie-backports"


def test_catalog() -> None:
    assert list(guests.GUESTS) == ["bookworm", "trixie", "trixie-backports"]
    assert guests.DEFAULT == "trixie"
    book, trixie, bpo = (guests.GUESTS[n] for n in guests.GUESTS)
    assert book.apt_suites == ("bookworm", "bookworm-updates", "bookworm-security")
    assert trixie.apt_suites == ("trixie", "trixie-updates", "trixie-security")
    assert (book.python, trixie.python, bpo.python) == ("3.11", "3.13", "3.13")
    assert bpo.suite == "trixie" and bpo.kernel_suite == "trixie-backports"
    assert "trixie-backports" in bpo.apt_suites
    assert [g.kernel_from_backports for g in (book, trixie, bpo)] == [False, False, True]
    for name, g in guests.GUESTS.items():
        assert g.name == name
        assert g.suite in g.apt_suites and g.kernel_suite in g.apt_suites


def test_resolve_precedence() -> None:
    assert guests.resolve(None, {}).name == "trixie"
    assert guests.resolve(None, {"VNET_LAB_GUEST": ""}).name == "trixie"
    assert guests.resolve(None, {"VNET_LAB_GUEST": "bookworm"}).name == "bookworm"
    assert guests.resolve("trixie-backports", {"VNET_LAB_GUEST": "bookworm"}).name == "trixie-backports"
    # The option wins even over a bad environment.
    assert guests.resolve("bookworm", {"VNET_LAB_GUEST": "foo"}).name == "bookworm"


@pytest.mark.parametrize(("option", "env"), [("foo", {}), (None, {"VNET_LAB_GUEST": "foo"}),
                                             ("foo", {"VNET_LAB_GUEST": "trixie"})])
def test_resolve_unknown(option: str | None, env: dict[str, str]) -> None:
    with pytest.raises(guests.UnknownGuest) as err:
        guests.resolve(option, env)
    assert err.value.status == 2
    assert f"vnet-lab: {err.value}" == UNKNOWN_FOO


ARGS = {"build": [], "run": ["--", "true"], "shell": [], "demo": []}


@pytest.mark.parametrize("sub", list(ARGS))
def test_cli_unknown_guest_option(sub: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VNET_LAB_GUEST", raising=False)
    result = CliRunner().invoke(lab_cli.main, [sub, "--guest", "foo", *ARGS[sub]])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [UNKNOWN_FOO]
    assert result.stdout == ""


@pytest.mark.parametrize("sub", list(ARGS))
def test_cli_unknown_guest_env(sub: str) -> None:
    result = CliRunner().invoke(lab_cli.main, [sub, *ARGS[sub]], env={"VNET_LAB_GUEST": "foo"})
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [UNKNOWN_FOO]


def _capture_build(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []

    def fake_build(guest: Guest, force: bool = False) -> None:
        built.append(guest.name)

    monkeypatch.setattr(image_mod, "build", fake_build)
    return built


def test_cli_guest_option_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _capture_build(monkeypatch)
    runner = CliRunner()
    assert runner.invoke(lab_cli.main, ["build"], env={"VNET_LAB_GUEST": None}).exit_code == 0
    assert runner.invoke(lab_cli.main, ["build"], env={"VNET_LAB_GUEST": "bookworm"}).exit_code == 0
    result = runner.invoke(lab_cli.main, ["build", "--guest", "trixie-backports"], env={"VNET_LAB_GUEST": "foo"})
    assert result.exit_code == 0
    assert built == ["trixie", "bookworm", "trixie-backports"]


def test_cli_load_without_driver_is_a_usage_error() -> None:
    result = CliRunner().invoke(lab_cli.main, ["run", "--load", "--no-driver", "--", "true"],
                                env={"VNET_LAB_GUEST": None})
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["vnet-lab: --load needs the driver: drop --no-driver"]
