# Pilotlight: `make demo` runs the main job, `make test` runs every test.
# Both install what they need first (venv, PyPI packages, Debian's mosquitto).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STUBS  := micropython-esp32-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test check bench clean hil-serial hil-soak test-cluster

setup: $(VENV)/.installed typings/.installed
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing mosquitto (Debian package)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; }
	@[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || { \
	  echo "installing rabbitmq-server (Debian package: the clustered broker)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq rabbitmq-server >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (Debian package; the reports' browser check)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@echo 'int main(void){return 0;}' | gcc -m32 -x c - -o /dev/null 2>/dev/null || ! command -v apt-get >/dev/null || { \
	  echo "installing gcc-multilib (Debian package) for the vboards' 32-bit interpreter"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq gcc-multilib >/dev/null; }
	@$(PY) -m host_tools.vboard.interpreter >/dev/null

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

typings/.installed: $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --target typings $(STUBS)
	touch $@

demo: setup
	$(VENV)/bin/pilotlight demo

# The boards of independent tests run side by side (pytest-xdist): most of a
# HIL test is waiting on a board, so more workers than cores pay off.
WORKERS ?= 5
JUNIT   ?= build/junit.xml
test: setup check
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup --junitxml=$(JUNIT)

# The whole HIL suite on the serial target, vboards standing in for the bench.
hil-serial: setup
	$(PY) -m hil_tests.rig.vboard_bench --boards 6 -- --junitxml=build/junit-serial.xml

# The fleet acceptance on the 2-node RabbitMQ cluster: status, a collector killed while lamps die, the boards'
# node restarted, a district command, a staged roll-out; 5 vboards and 2,000 simulated lamps on node 0, the
# tools on node 1.
test-cluster: setup
	PILOTLIGHT_FLEET_BROKERS=rabbitmq-cluster $(PY) -m pytest -m on_every_broker hil_tests --junitxml=build/junit-cluster.xml

# A simulated week on one board, in compressed time (nights, outages, commands, a power cut a night).
hil-soak: setup
	$(PY) -m pytest hil_tests/soak --soak --junitxml=build/junit-soak.xml

# The firmware against the ESP32's real API (the stubs), and through mpy-cross.
check: setup
	$(PY) -m host_tools.firmware_build --check

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) typings build .pytest_cache .mypy_cache
