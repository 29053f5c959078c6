"""`make bench`: every figure on its own line as `name: value unit`.

Each module listed in SUITES has `measure()`, yielding (name, value, unit)
tuples; names follow the issue that asked for the figure."""
import importlib
import os
import sys
import tempfile

SUITES = ["bench.footprint", "bench.vboard", "bench.brain", "bench.lamp_latency", "bench.mqtt", "bench.metering", "bench.inventory", "bench.provision", "bench.connectivity", "bench.wire", "bench.reports", "bench.broker",
          "bench.hil_suite", "bench.flash", "bench.fleet", "bench.ota"]


def main() -> int:
    failed = 0
    # The benches' fleet and probe accounts: into a throw-away secrets file, not the operator's own.
    secrets = tempfile.TemporaryDirectory(prefix="bench-secrets-")
    os.environ.setdefault("PILOTLIGHT_SECRETS", os.path.join(secrets.name, "secrets.json"))
    for suite in SUITES:
        try:
            for name, value, unit in importlib.import_module(suite).measure():
                print(f"{name}: {value:.4g} {unit}" if isinstance(value, float) else f"{name}: {value} {unit}",
                      flush=True)
        except Exception as e:  # one broken suite must not hide the others' figures
            failed += 1
            print(f"# {suite} failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
