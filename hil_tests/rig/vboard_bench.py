"""The serial target in CI: vboards stand in for a bench of real boards.

    python -m hil_tests.rig.vboard_bench --boards 6 [-- PYTEST ARGS]

starts the boards (`pilotlight vboard run`), runs the HIL suite (or the tests
named in the pytest args) against their ports with `--target serial --rig-i2c vboard` (the rig's real drivers over
simulated chips wired to the vboards), and stops the boards. Exit code: pytest's."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import click


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--boards", default=6, show_default=True, help="How many vboards on the bench.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def main(boards: int, pytest_args: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory(prefix="hil-serial-") as home:
        run = subprocess.Popen([sys.executable, "-m", "host_tools", "vboard", "run", "--name", "bench", "--count",
                                str(boards), "--home", home, "--romfs", "--json"],
                               stdout=subprocess.PIPE, text=True)
        try:
            ready = json.loads(run.stdout.readline() or "{}").get("ready")
            if not ready:
                raise click.ClickException("the bench's vboards did not start")
            ports = [arg for b in ready for arg in ("--port", str(Path(b["port"])))]
            # The tests come first: pytest learns the suite's own options (--target ...)
            # from the conftest beside the first path it is given.
            tests = [a for a in pytest_args if a.startswith("hil_tests")] or ["hil_tests"]
            options = [a for a in pytest_args if not a.startswith("hil_tests")]
            code = subprocess.call([sys.executable, "-m", "pytest", *tests, "--target", "serial",
                                    "--rig-i2c", "vboard", "-p", "no:xdist", *ports, *options])
        finally:
            run.send_signal(signal.SIGTERM)
            run.wait(30)
    sys.exit(code)


if __name__ == "__main__":
    main()
