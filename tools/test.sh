#!/usr/bin/env bash
# Run the glance-download test suite.
#
#   tools/test.sh                         # every test
#   tools/test.sh tests.unit.test_fetch   # a filter, passed to "stestr run"
#
# The end-to-end tests (tests/functional) need the test cloud: for a full
# run, or a filter that names functional tests, the cloud is started with
# "tools/cloud start" first and stopped at the end.  Set
# GD_REUSE_CLOUD=1 to use a cloud that is already running and leave it so.
#
# The first run creates .venv in the repository with "python3 -m venv" and
# installs test-requirements.txt and the package (editable) into it.  Later
# runs reuse it, and reinstall when requirements.txt, test-requirements.txt,
# setup.cfg or setup.py change.  Set PYTHON to use another interpreter for
# the virtual environment.
#
# The last line of output is "stestr: N passed, N failed, N skipped".  The
# exit status is stestr's when it failed, otherwise non-zero as well if a
# test failed or no test ran.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Create .venv, or bring it up to date (sets VENV, and PBR_VERSION when
# pbr needs it).
. tools/venv.sh

cleanup_files=()
cloud_started=
cleanup() {
    if [ -n "$cloud_started" ]; then
        tools/cloud stop || true
    fi
    if [ ${#cleanup_files[@]} -gt 0 ]; then
        rm -f "${cleanup_files[@]}"
    fi
}
trap cleanup EXIT

needs_cloud=
if [ $# -eq 0 ]; then
    needs_cloud=1
else
    for arg in "$@"; do
        case "$arg" in
            *functional*) needs_cloud=1 ;;
        esac
    done
fi
if [ -n "$needs_cloud" ] && [ "${GD_REUSE_CLOUD:-}" != 1 ]; then
    cloud_started=1
    tools/cloud start
fi

# "stestr last" would show an earlier run if this one stopped before any
# test ran (an import error during discovery, for example): compare the
# repository's next run id before and after.
next_run() {
    cat .stestr/next-stream 2>/dev/null || echo none
}
before=$(next_run)

set +e
"$VENV/bin/stestr" run "$@"
rc=$?
set -e

after=$(next_run)
if [ "$after" = none ] || [ "$after" = "$before" ]; then
    summary="0 0 0"
else
    # "stestr last" exits non-zero when the run had failures: keep its
    # stream in a file rather than in a pipeline under pipefail.
    stream_file=$(mktemp)
    cleanup_files+=("$stream_file")
    "$VENV/bin/stestr" last --subunit > "$stream_file" || true
    summary=$("$VENV/bin/python" - "$stream_file" <<'EOF_PARSE'
import sys

import subunit
import testtools

summary = testtools.StreamSummary()
with open(sys.argv[1], "rb") as source:
    stream = subunit.ByteStreamToStreamResult(
        source, non_subunit_name="stdout")
    summary.startTestRun()
    try:
        stream.run(summary)
    finally:
        summary.stopTestRun()
failed = (len(summary.failures) + len(summary.errors)
          + len(summary.unexpectedSuccesses))
skipped = len(summary.skipped)
print(summary.testsRun - failed - skipped, failed, skipped)
EOF_PARSE
) || summary="0 1 0"
fi

read -r passed failed skipped <<< "$summary"
# On a line of its own, even after output that did not end with a newline.
printf '\nstestr: %s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"

if [ "$rc" -ne 0 ]; then
    exit "$rc"
fi
if [ "$failed" -ne 0 ]; then
    exit 1
fi
if [ $((passed + failed + skipped)) -eq 0 ]; then
    echo "No test ran." >&2
    exit 1
fi
exit 0
