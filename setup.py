"""The wheel carries the BPF programs (bpf/*.bpf.c) and the driver headers they include
(kmod/*.h) as package data under vnet_ebpf/_sources, so that an installed vnet-trace
(pipx, pip) compiles them without a checkout.  Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: source folder -> the files of it the wheel carries
SOURCES = {"bpf": "*.bpf.c", "kmod": "*.h"}


class BuildPyWithSources(build_py):
    def run(self) -> None:
        super().run()
        for folder, pattern in SOURCES.items():
            dest = Path(self.build_lib) / "vnet_ebpf" / "_sources" / folder
            dest.mkdir(parents=True, exist_ok=True)
            for f in sorted((HERE / folder).glob(pattern)):
                shutil.copy2(f, dest / f.name)


setup(cmdclass={"build_py": BuildPyWithSources})
