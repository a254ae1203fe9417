#!/usr/bin/env bash
# Create or refresh the project's virtual environment, .venv in the
# repository, shared by the tests (tools/test.sh) and the test cloud
# (tools/cloud).
#
#   tools/venv.sh        # make sure .venv is ready
#   . tools/venv.sh      # the same from a bash script, which then also gets
#                        # VENV (".venv", relative to the repository) and
#                        # PBR_VERSION when pbr needs it
#
# The first run creates .venv with "python3 -m venv" and installs
# test-requirements.txt and the package (editable) into it.  Later runs
# reuse it, and reinstall when requirements.txt, test-requirements.txt,
# setup.cfg or setup.py change.  Set PYTHON to use another interpreter for
# the virtual environment.  Nothing is printed when .venv is up to date.

VENV=.venv

# pbr derives the version from git history.  Outside a git checkout, or in
# a shallow clone where that history is cut, give it a version to use.
_gd_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PBR_VERSION:-}" ]; then
    if ! git -C "$_gd_repo" rev-parse --git-dir >/dev/null 2>&1 || [ "$(
            git -C "$_gd_repo" rev-parse --is-shallow-repository 2>/dev/null
            )" = true ]; then
        export PBR_VERSION=0.0.0.dev0
    fi
fi

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: do the work in a process of its own, with its own errexit,
    # and hand its failure to the caller.
    "$_gd_repo/tools/venv.sh" || return
    unset _gd_repo
    return 0
fi

set -euo pipefail
cd "$_gd_repo"

PYTHON=${PYTHON:-python3}
STAMP=$VENV/.glance-download-requirements

requirements_hash() {
    cat requirements.txt test-requirements.txt setup.cfg setup.py |
        "$VENV/bin/python" -c '
import hashlib, sys
h = hashlib.sha256(sys.stdin.buffer.read())
h.update(sys.version.encode())
print(h.hexdigest())'
}

if [ ! -x "$VENV/bin/python" ] ||
        ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    echo "Creating $VENV with $PYTHON"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

wanted=$(requirements_hash)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
    echo "Installing test requirements and the package into $VENV"
    rm -f "$STAMP"
    "$VENV/bin/python" -m pip install --quiet -r test-requirements.txt -e .
    echo "$wanted" > "$STAMP"
fi
