# dreamgen: `make demo` and `make test` install what they need on first use (see README).
SHELL := /bin/bash
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
# cpu: torch 2.13.0 CPU build (CI, laptops). keep: the torch already in $(VENV) (GPU machines).
TORCH ?= cpu
TORCH_INDEX ?=
PYTEST_ARGS ?=
# 2: ROS tests and the rest in two pytest processes side by side (tools/run_tests.sh); 1: one pytest.
TEST_LANES ?= 2

# Every ROS process make starts discovers peers on loopback only; dreamgen-ros-env adds a
# ROS_DOMAIN_ID claimed for this session. (Humble robots: ROS_LOCALHOST_ONLY=1 instead.)
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
unexport ROS_LOCALHOST_ONLY
# No hub is reachable and nothing may phone home: Hugging Face libraries offline, Ray without usage stats.
export HF_HUB_OFFLINE := 1
export RAY_USAGE_STATS_ENABLED := 0

INSTALLED := $(VENV)/.dreamgen-installed
BUILT := ros2_ws/install/.dreamgen-built
WS_SOURCES := colcon.meta $(shell find ros2_ws/src launch -type f -not -name '*.pyc')
ROS_RUN := source ros2_ws/install/setup.bash && $(VENV)/bin/dreamgen-ros-env --

.PHONY: help setup lint test demo lock clean distclean

help:
	@echo "make demo       the DreamGen loop in miniature on the simulated robot (installs on first run)"
	@echo "make test       lint, then the whole test suite: ROS tests and the rest side by side (installs on first run)"
	@echo "make lint       ruff on the checkout, mypy on dreamgen_core (config: pyproject.toml)"
	@echo "make setup      only install: $(VENV) (pinned by tools/constraints.txt) + colcon build of ros2_ws"
	@echo "make lock       re-resolve tools/constraints.txt from the requirement files"
	@echo "make clean      remove the ROS 2 build and demo output;  make distclean: also $(VENV)"
	@echo "variables: TORCH=cpu|keep  TORCH_INDEX=URL  PYTEST_ARGS='-k embodiment'  TEST_LANES=1 (one pytest, no lanes)"

$(INSTALLED): tools/install.sh tools/constraints.txt $(wildcard tools/requirements-*.txt) dreamgen_core/pyproject.toml
	tools/install.sh --venv $(VENV) --torch $(TORCH) $(if $(TORCH_INDEX),--torch-index $(TORCH_INDEX))
	touch $@

$(BUILT): $(INSTALLED) $(WS_SOURCES)
	tools/build_ws.sh $(VENV) --symlink-install
	touch $@

setup: $(BUILT)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: setup lint
	$(ROS_RUN) env TEST_LANES=$(TEST_LANES) tools/run_tests.sh $(VENV)/bin/python $(PYTEST_ARGS)

demo: setup
	$(ROS_RUN) $(VENV)/bin/dreamgen demo

lock:
	tools/lock.sh

clean:
	rm -rf ros2_ws/build ros2_ws/install ros2_ws/log demo_output

distclean: clean
	rm -rf $(VENV)
