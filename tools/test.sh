#!/usr/bin/env bash
# Set up and run every test of glance-download with tox (tox.ini).
#
#   tools/test.sh                         # everything, as CI does
#   tools/test.sh tests.unit.test_fetch   # filters, passed to "stestr run"
#
# With no argument it runs, one after the other, the tox environments
# pep8, py3 (the unit suite on the newest Glance series), functional (the
# end-to-end suite on a test cloud it starts and stops), docs,
# releasenotes, the unit suite on every older supported Glance series, the
# end-to-end suite on the oldest, and client-min (the client on the oldest
# releases it declares, without Glance) (GD_TEST_ENVS, a space-separated
# list, replaces that list).  With filters it runs py3 with them, or
# functional when one names functional tests; GD_REUSE_CLOUD=1 then uses
# a cloud that is already running and leaves it running.
#
# tox is used from the PATH, or installed into .tox/.bootstrap first
# (tools/tox).  Every environment runs even when one before it failed, and
# is stopped after GD_TEST_ENV_TIMEOUT seconds (1800).
# The last line of output sums the test runs:
# "stestr: N passed, N failed, N skipped".  The exit status is non-zero
# when an environment failed or no test ran.

set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ALL_ENVS="pep8 py3 functional docs releasenotes glance30 glance31 glance32
functional-glance30 client-min"

if [ $# -eq 0 ]; then
    read -r -a envs <<< "$(echo ${GD_TEST_ENVS:-$ALL_ENVS})"
else
    envs=(py3)
    for arg in "$@"; do
        case "$arg" in
            *functional*) envs=(functional) ;;
        esac
    done
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

passed=0 failed=0 skipped=0 broken=()
results=()
for env in "${envs[@]}"; do
    started=$SECONDS
    timeout -k 60 "${GD_TEST_ENV_TIMEOUT:-1800}" \
        tools/tox -e "$env" -- "$@" 2>&1 | tee "$logs/$env.log"
    rc=${PIPESTATUS[0]}
    # stestr's closing summary: " - Passed: N", " - Failed: N", ...
    read -r p f s ran <<< "$(awk '
        /^ - Passed: /             { p += $3 }
        /^ - Skipped: /            { s += $3 }
        /^ - Failed: /             { f += $3 }
        /^ - Unexpected Success: / { f += $4 }
        /^Ran: /                   { r += 1 }
        END { print p + 0, f + 0, s + 0, r + 0 }' "$logs/$env.log")"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$ran" -eq 0 ] &&
            [[ "$env" == py3 || "$env" == glance* || "$env" == functional* ]]
    then
        # The run broke before stestr summed it up: count it as a failure.
        f=1
    fi
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    [ "$rc" -eq 0 ] || broken+=("$env")
    results+=("$(printf '%-22s %-4s %5d s' "$env" \
        "$([ "$rc" -eq 0 ] && echo OK || echo FAIL)" $((SECONDS - started)))")
done

echo
printf '%s\n' "${results[@]}"
if [ ${#broken[@]} -gt 0 ]; then
    echo "Failed: ${broken[*]}"
fi
# On a line of its own, even after output that did not end with a newline.
printf '\nstestr: %s passed, %s failed, %s skipped\n' \
    "$passed" "$failed" "$skipped"

if [ ${#broken[@]} -gt 0 ] || [ "$failed" -ne 0 ]; then
    exit 1
fi
if [ $((passed + failed + skipped)) -eq 0 ]; then
    echo "No test ran." >&2
    exit 1
fi
exit 0
