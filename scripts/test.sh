#!/usr/bin/env bash
# The test command of old, kept for those used to it: the README's second command with pytest's arguments.
exec python3 "$(dirname "$0")/setup.py" test "$@"
