#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# The desktop app's tests run on a virtual display.
if ! command -v Xvfb >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y -qq xvfb >/dev/null 2>&1 || {
        $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq xvfb
    }
fi

python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# The reference pipeline the engine is measured against. Without its dependencies:
# it asks for `dlib`, which would compile for minutes; `dlib-bin` provides the same module.
python3 -m pip install --quiet --disable-pip-version-check --no-deps face_recognition==1.3.0
python3 -m pytest -q "$@"
