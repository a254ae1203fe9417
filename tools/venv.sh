#!/usr/bin/env bash
# Create or refresh .venv, the virtual environment tools/cloud,
# tools/bench and tools/demo run from: tox's "venv" environment, with the
# newest Glance series, Keystone, the clients, reno and this checkout.
#
#   tools/venv.sh
#
# tox recreates it when requirements.txt, test-requirements.txt or
# setup.cfg change, and otherwise only checks it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec tools/tox -q -e venv --notest
