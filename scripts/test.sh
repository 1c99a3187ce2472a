#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
python3 -m pip install --quiet --disable-pip-version-check --no-deps face_recognition==1.3.0
python3 -m pytest -q "$@"
