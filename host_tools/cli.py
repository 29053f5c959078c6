"""The `pilotlight` command: one group per concern, each in its own module."""
import click

from .audit.cli import audit
from .demo import demo
from .fleet.cli import register as register_fleet
from .broker.cli import broker
from .inventory.cli import inventory
from .micropython.cli import firmware
from .provision.cli import provision
from .reports.cli import report
from .release.cli import release
from .vboard.cli import vboard


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="pilotlight")
def cli():
    """Pilotlight: smart-streetlight firmware and fleet tools.

    \b
    Start with the virtual boards, which need no hardware:
      pilotlight vboard run --count 3        three boards on ptys
      pilotlight vboard list                 what is running
      pilotlight vboard ctl vb00 status      poke one from the rig side
    """


cli.add_command(vboard)
cli.add_command(inventory)
cli.add_command(broker)
cli.add_command(demo)
cli.add_command(provision)
register_fleet(cli)
cli.add_command(audit)
cli.add_command(report)
cli.add_command(firmware)
cli.add_command(release)


def main():
    cli()
