"""``vnet-trace``: the tracer's command line."""

from __future__ import annotations

import click

PROG = "vnet-trace"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnet-ebpf", prog_name=PROG)
def main() -> None:
    """Trace the vnet driver with BCC: rings, NAPI batching, ARP generation, XDP."""


if __name__ == "__main__":
    main()
