# Pilotlight: `make demo` runs the main job, `make test` runs every test.
# Both install what they need first (venv, PyPI packages, Debian's mosquitto).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STUBS  := micropython-esp32-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test check bench clean

setup: $(VENV)/.installed typings/.installed
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing mosquitto (Debian package)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (Debian package; the reports' browser check)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

typings/.installed: $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --target typings $(STUBS)
	touch $@

demo: setup
	$(VENV)/bin/pilotlight demo

test: setup check
	$(PY) -m pytest

# The firmware against the ESP32's real API (the stubs), and through mpy-cross.
check: setup
	$(PY) -m host_tools.firmware_build --check

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) typings build .pytest_cache .mypy_cache
