# The two commands: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
APT_PACKAGES := python3-torch python3-numpy python3-pil python3-matplotlib python3-pytest libopencv-dev mosquitto openssl
# Photographs unrelated to any part (models/teachers/photos.txt): the students' penalty in the
# default training recipe, and teacher pre-training. Installed where the distribution has them
# (lomiri-wallpapers-16.04 is in Debian 12; another distribution may lack it), without an apt-get
# update on every run for one it lacks.
PHOTO_APT_PACKAGES := mate-backgrounds lomiri-wallpapers-16.04 python3-skimage
# Only the tests drive a browser (the station page), with Debian's Chromium: never one downloaded.
TEST_APT_PACKAGES := chromium
# onnxruntime-node's postinstall fetches CUDA libraries; the CPU build ships in the package itself.
export ONNXRUNTIME_NODE_INSTALL := skip
# @u4/opencv4nodejs compiles against Debian's OpenCV (libopencv-dev) instead of building its own.
export OPENCV4NODEJS_DISABLE_AUTOBUILD := 1
# node-gyp compiles the addon on every core (it uses one by default).
export JOBS := max
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX ?= /opt/inspector

.PHONY: all setup apt apt-test test test-imports test-python test-node soak demo build install clean

all: setup

setup: apt node_modules/.package-lock.json build

apt apt-test: PACKAGES = $(APT_PACKAGES)
apt-test: PACKAGES += $(TEST_APT_PACKAGES)
apt apt-test:
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	absent() { for p in $(PHOTO_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || { apt-cache show $$p >/dev/null 2>&1 && echo $$p; }; done; }; \
	photos=$$(absent); \
	if [ -n "$$missing$$photos" ]; then \
	  $(SUDO) apt-get update -q && photos=$$(absent) && \
	  echo "installing Debian packages:" $$missing $$photos; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing $$photos; \
	fi

node_modules/.package-lock.json: package.json package-lock.json | apt
	npm ci --no-audit --no-fund

build: node_modules/.package-lock.json
	npx tsc -p tsconfig.json

test: apt-test setup test-imports test-python test-node

# Imports flow one way along a part's path (docs/architecture.md).
test-imports:
	node scripts/check-imports.mjs

test-python:
	$(PYTHON) -m pytest -q training/tests

test-node:
	npx vitest run

# Long runs kept out of `make test`: memory over SOAK_PARTS parts (default 20,000).
soak: setup
	SOAK=1 npx vitest run test/soak

# The daemon on the demo station: synthetic parts -> the shipped demo bundle -> the embedded
# MQTT broker; verdicts scroll by until Ctrl-C.
demo: setup
	@echo "== inspector demo: synthetic parts judged by models/demo, verdicts published on mqtt://127.0.0.1:1884"
	@echo "== watch them from another terminal:  npx mqtt sub -h 127.0.0.1 -p 1884 -t 'inspector/demo/#' -v"
	@echo "== the station page: http://127.0.0.1:8088/"
	@echo "== OPC UA (anonymous, demo only): opc.tcp://127.0.0.1:4840, Objects/Inspector"
	@echo "== stop with Ctrl-C"
	node bin/inspector.js run --pipeline pipelines/demo.yaml --config config/demo.yaml

# The service on this machine (a Jetson or any Debian): code in $(PREFIX), settings in /etc/inspector,
# one systemd instance per station (docs/deploy-jetson.md).
install: setup
	$(SUDO) mkdir -p $(PREFIX) /etc/inspector/pipelines
	$(SUDO) cp -r bin dist models node_modules package.json docs training web $(PREFIX)/
	[ -e /etc/inspector/config.yaml ] || sed 's#^allowedPaths: null#allowedPaths: [/etc/inspector, $(PREFIX)/models, /var/lib/inspector]#' \
	  config/default.yaml | $(SUDO) tee /etc/inspector/config.yaml >/dev/null
	for f in pipelines/*.yaml; do [ -e /etc/inspector/$$f ] || \
	  sed 's#^bundle: \.\./models/#bundle: $(PREFIX)/models/#' $$f | $(SUDO) tee /etc/inspector/$$f >/dev/null; done
	$(SUDO) cp systemd/inspector@.service /etc/systemd/system/
	$(SUDO) systemctl daemon-reload
	@echo "installed. Start a station:  sudo systemctl enable --now inspector@demo"

clean:
	rm -rf dist node_modules
