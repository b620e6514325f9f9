# The two commands: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
APT_PACKAGES := python3-torch python3-numpy python3-pil python3-matplotlib python3-pytest libopencv-dev mosquitto
# onnxruntime-node's postinstall fetches CUDA libraries; the CPU build ships in the package itself.
export ONNXRUNTIME_NODE_INSTALL := skip
# @u4/opencv4nodejs compiles against Debian's OpenCV (libopencv-dev) instead of building its own.
export OPENCV4NODEJS_DISABLE_AUTOBUILD := 1
# node-gyp compiles the addon on every core (it uses one by default).
export JOBS := max
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all setup apt test test-python test-node demo build clean

all: setup

setup: apt node_modules/.package-lock.json build

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

node_modules/.package-lock.json: package.json package-lock.json | apt
	npm ci --no-audit --no-fund

build: node_modules/.package-lock.json
	npx tsc -p tsconfig.json

test: setup test-python test-node

test-python:
	$(PYTHON) -m pytest -q training/tests

test-node:
	npx vitest run

# Trains a small bundle on synthetic good parts with the shipped teachers (the daemon comes next).
demo: setup
	scripts/demo.sh

clean:
	rm -rf dist node_modules
