"""The Vagrant box and vagrant-test's pure parts: box keys and records, the hooks that
make a root a box, the checks' parsing, and the one-line errors."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import box, cache, guests, vagrant
from vnet_ebpf.lab import cli as lab_cli

TRIXIE = guests.get("trixie")
ROOT = Path(__file__).resolve().parents[2]


def test_box_key_follows_the_image_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    before = box.box_key(TRIXIE)
    assert before != box.box_key(guests.get("bookworm"))
    monkeypatch.setattr(cache, "image_key", lambda g: "another image")
    assert box.box_key(TRIXIE) != before


def _record(folder: Path, **info: object) -> None:
    folder.mkdir(parents=True)
    (folder / "info.json").write_text(json.dumps(info))


def test_find_box_wants_the_current_key_and_the_file(tmp_path: Path) -> None:
    folder = box.box_dir(tmp_path, TRIXIE)
    assert box.find_box(TRIXIE, tmp_path) is None
    _record(folder, guest="trixie", key=box.box_key(TRIXIE), kernel_release="6.12.1")
    assert box.find_box(TRIXIE, tmp_path) is None  # no box file yet
    (folder / "vnet-lab-trixie.box").write_bytes(b"")
    found = box.find_box(TRIXIE, tmp_path)
    assert found is not None and found.kernel_release == "6.12.1"
    (folder / "info.json").write_text(json.dumps({"guest": "trixie", "key": "old"}))
    assert box.find_box(TRIXIE, tmp_path) is None
    (folder / "info.json").write_text("{not json")
    assert box.find_box(TRIXIE, tmp_path) is None


def test_added_info_reads_vagrants_box_folder(tmp_path: Path) -> None:
    env = {"VAGRANT_HOME": str(tmp_path)}
    assert box.added_info(TRIXIE, env) is None
    _record(tmp_path / "boxes" / "vnet-lab-VAGRANTSLASH-trixie" / "0" / "libvirt", guest="trixie", key="k")
    assert box.added_info(TRIXIE, env) == {"guest": "trixie", "key": "k"}
    assert box.added_info(guests.get("bookworm"), env) is None


def test_the_hooks_make_a_vagrant_box(tmp_path: Path) -> None:
    key, net = tmp_path / "vagrant.pub", tmp_path / "net"
    hooks = box.vagrant_hooks(key, net)
    text = "\n".join(hooks)
    assert f"upload {key} /home/vagrant/.ssh/authorized_keys" in hooks
    assert f"upload {net} /etc/systemd/network/80-vnet-lab.network" in hooks
    assert "NOPASSWD:ALL" in text and "chmod 0440" in text
    assert "systemctl enable systemd-networkd systemd-resolved ssh" in text
    assert {"openssh-server", "sudo", "rsync", "systemd-sysv"} <= set(box.BOX_PACKAGES)
    assert "DHCP=yes" in box.NETWORK_UNIT


RUBY_STUB = """
$lv = Struct.new(:kernel, :initrd, :cmd_line).new
module Vagrant
  VM = Struct.new(:x) do
    def provider(name)
      yield $lv
    end
  end
  def self.configure(version)
    yield Struct.new(:vm).new(VM.new(nil))
  end
end
load ARGV[0]
puts $lv.kernel, $lv.initrd, $lv.cmd_line
"""


@pytest.mark.skipif(shutil.which("ruby") is None, reason="no ruby (Vagrant brings it)")
def test_the_box_vagrantfile_boots_copies_qemu_can_read(tmp_path: Path) -> None:
    """libvirt's QEMU cannot read Vagrant's folder under a private home: the box's
    Vagrantfile copies its kernel and initrd to a folder of ours, readable by all."""
    key = f"unit{os.getpid():012x}"[:16]
    folder = tmp_path / "boxdir"
    folder.mkdir()
    (folder / "vmlinuz").write_bytes(b"kernel")
    (folder / "initrd.img").write_bytes(b"initrd!")
    (folder / "Vagrantfile").write_text(box.BOX_VAGRANTFILE.format(
        guest="trixie", about="Debian 13", kver="6.12.1", key=key, cmdline=box.CMDLINE))
    (tmp_path / "stub.rb").write_text(RUBY_STUB)
    boot = Path("/var/tmp") / f"vnet-lab-boot-{os.getuid()}" / key
    try:
        run = subprocess.run(["ruby", str(tmp_path / "stub.rb"), str(folder / "Vagrantfile")],
                             capture_output=True, text=True, timeout=60, check=True)
        assert run.stdout.split("\n")[:3] == [str(boot / "vmlinuz"), str(boot / "initrd.img"), box.CMDLINE]
        assert (boot / "vmlinuz").read_bytes() == b"kernel" and (boot / "initrd.img").read_bytes() == b"initrd!"
        for f in (boot / "vmlinuz", boot / "initrd.img"):
            assert f.stat().st_mode & 0o777 == 0o644
        assert boot.parent.stat().st_mode & 0o777 == 0o755
    finally:
        shutil.rmtree(boot, ignore_errors=True)


def test_insecure_key_missing_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(box, "INSECURE_KEYS", (tmp_path, "vagrant-*/keys/vagrant.pub"))
    with pytest.raises(UserError, match="apt-get install vagrant"):
        box.insecure_key()


def test_napi_reports_takes_only_json_objects() -> None:
    out = 'Warning: something\n{"polls": 3}\n{"polls": 0}\nnot json {\n[1]\n{"polls": 1}\n'
    assert vagrant.napi_reports(out) == [{"polls": 3}, {"polls": 0}, {"polls": 1}]


def test_cleanup_takes_only_what_is_the_tests() -> None:
    vols = ["default/vnet-lab-test_default.img", "default/vnet-lab-VAGRANTSLASH-trixie_vagrant_box_image_0_1_box.img",
            "default/main_default.img", "other/vnet-lab-test_x"]
    nets = ["default", "vagrant-libvirt"]
    alone = vagrant.ours(["vnet-lab-test_default"], vols, nets)
    assert alone == {"domain": ["vnet-lab-test_default"],
                     "volume": [vols[0], vols[1], vols[3]], "network": ["vagrant-libvirt"]}
    # A user's VM (maybe of a vnet-lab box, on its base volume): base volumes and
    # Vagrant's network stay.
    shared = vagrant.ours(["vnet-lab-test_default", "main_default"], vols, nets)
    assert shared == {"domain": ["vnet-lab-test_default"], "volume": [vols[0], vols[3]], "network": []}
    assert vagrant.ours([], [], ["default"]) == {"domain": [], "volume": [], "network": []}


def test_reason_prefers_the_guests_last_words() -> None:
    tail = ["==> default: Running provisioner: driver (shell)...", "default: make: *** Error 2",
            "The SSH command responded with a non-zero exit status."]
    assert vagrant._reason(tail) == "make: *** Error 2"
    assert vagrant._reason([]) == "no output"


def test_progress_redraws_are_filtered() -> None:
    assert vagrant.PROGRESS.match("Progress: 12%")
    assert vagrant.PROGRESS.match("\x1b[KProgress: 0%")
    assert not vagrant.PROGRESS.match("==> default: Machine booted and ready!")
    assert vagrant.APT_GET.match("    default: Get:4 http://deb.debian.org/debian trixie/main amd64 Packages [9679 kB]")
    assert not vagrant.APT_GET.match("    default: Hit:1 http://deb.debian.org/debian trixie InRelease")
    m = vagrant.PROVISIONER.match("==> default: Running provisioner: packages (shell)...")
    assert m is not None and m["name"] == "packages"


def test_a_killed_run_says_it_timed_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "vagrant"
    fake.write_text("#!/bin/sh\necho '==> default: Running provisioner: packages (shell)...'\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    import time
    t = time.monotonic()
    run = vagrant.run_vagrant(["up"], {"PATH": f"{tmp_path}:/usr/bin:/bin"}, tmp_path / "log", time.monotonic() + 1)
    assert run.timed_out and run.status != 0 and run.provisioner == "packages"
    assert time.monotonic() - t < 10
    assert "Running provisioner: packages" in (tmp_path / "log").read_text()


def test_vagrant_test_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(lab_cli.main, ["vagrant-test"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "vnet-lab: vagrant-test needs root (libvirtd, the box build): run `sudo make vagrant-test`"]


def test_box_build_needs_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VNET_LAB_CACHE", str(tmp_path))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(lab_cli.main, ["box", "--guest", "trixie"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "sudo vnet-lab box --guest trixie" in result.output


def _vagrant_up(tmp_path: Path, box_name: str) -> subprocess.CompletedProcess[str]:
    """`vagrant up` of the checkout's Vagrantfile with BOX_NAME and Vagrant's state in TMP_PATH/vd."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VAGRANT_HOME": str(tmp_path / "vd"),
           "VNET_VAGRANT_BOX": box_name, "VAGRANT_CHECKPOINT_DISABLE": "1"}
    return subprocess.run(["vagrant", "up", "--provider=libvirt"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="Vagrant is not installed")
def test_the_vagrantfile_names_a_missing_box_in_one_line(tmp_path: Path) -> None:
    run = _vagrant_up(tmp_path, "vnet-lab/bookworm")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "Vagrantfile: Vagrant has no box vnet-lab/bookworm: build and add it with "
        "`sudo vnet-lab box --guest bookworm`"]



def test_a_provisioning_failure_is_one_line_naming_the_step(tmp_path: Path) -> None:
    up = vagrant.VagrantRun(1, "driver", ["default: make: *** [Makefile:12: modules] Error 2",
                                          "The SSH command responded with a non-zero exit status."], False)
    msg = vagrant.up_failure(up, 2400, tmp_path / "log", tmp_path / "console")
    assert msg is not None and "\n" not in msg
    assert "in the provisioner 'driver' inside the VM" in msg and "Error 2" in msg and str(tmp_path / "console") in msg
    hung = vagrant.VagrantRun(-9, "reboot-if-needed", [], True)
    msg = vagrant.up_failure(hung, 2400, tmp_path / "log", tmp_path / "console")
    assert msg is not None and "within the 2400 s timeout" in msg and "reboot-if-needed" in msg
    assert vagrant.up_failure(vagrant.VagrantRun(0, "driver", [], False), 1, tmp_path, tmp_path) is None
    fetched = vagrant.VagrantRun(0, "driver", [], False, apt_fetches=12)
    msg = vagrant.up_failure(fetched, 1, tmp_path, tmp_path)
    assert msg is not None and "fetched 12 files" in msg and "vnet-lab box --force" in msg


@pytest.mark.parametrize(("missing", "says"), [
    ("vagrant", "Vagrant is not installed"), ("virsh", "no libvirt"), ("libvirtd", "no libvirt"),
    ("dnsmasq", "dnsmasq"),
])
def test_missing_tools_are_one_line_naming_the_packages(missing: str, says: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name, path=None: None if name == missing else f"/x/{name}")
    monkeypatch.setattr("pathlib.Path.glob", lambda self, pattern: iter([Path("vagrant-libvirt-0.11.2")]))
    with pytest.raises(UserError) as err:
        vagrant.check_tools()
    assert says in str(err.value) and "apt-get install vagrant vagrant-libvirt libvirt-daemon-system" in str(err.value)


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="Vagrant is not installed")
def test_the_vagrantfile_refuses_a_box_of_another_guest(tmp_path: Path) -> None:
    folder = tmp_path / "vd" / "boxes" / "vnet-lab-VAGRANTSLASH-trixie" / "0" / "libvirt"
    _record(folder, guest="bookworm", key="k")
    run = _vagrant_up(tmp_path, "vnet-lab/trixie")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "Vagrantfile: the box vnet-lab/trixie was made from the bookworm guest, not trixie: "
        "replace it with `sudo vnet-lab box --guest trixie`"]


def test_ctrl_c_stops_vagrant_before_the_caller_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """vagrant runs in a session of its own (the deadline kills its whole group), so it does
    not see the terminal's Ctrl-C: run_vagrant must stop it, or `vagrant up` would go on
    beside the caller's `vagrant destroy`."""
    import os
    import signal
    import threading
    import time

    fake = tmp_path / "vagrant"
    fake.write_text(f"#!/bin/sh\necho $$ >{tmp_path}/pid\necho started\nexec sleep 30\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    monkeypatch.setenv("PATH", env["PATH"])

    def interrupt() -> None:
        while not (tmp_path / "pid").exists():
            time.sleep(0.05)
        time.sleep(0.2)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        vagrant.run_vagrant(["up"], env, tmp_path / "log", time.monotonic() + 60)
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
