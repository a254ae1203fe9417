#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The report of the checks, as text or as one JSON document.

Apart from the checks, which only say what they found: here it is printed,
with every user:password@ of a URL masked, whatever text it is in.
"""

import dataclasses
import json

from glance_download.cmd.status import result
from glance_download.cmd.status import runner
from glance_download import protocol
from glance_download import urls

# The text report: status, title, summary; details and fix below.
STATUS_WIDTH = 8
TITLE_WIDTH = 17
INDENT = ' ' * (STATUS_WIDTH + 1 + TITLE_WIDTH + 1)


def _masked(value):
    """``value`` with every user:password@ of a URL in it masked."""
    if isinstance(value, str):
        return urls.mask_userinfo(value)
    if isinstance(value, (list, tuple)):
        return [_masked(item) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    return value


def _shown_check(check):
    """The check as it may be printed: no userinfo in any of its texts."""
    return dataclasses.replace(
        check, summary=_masked(check.summary), fix=_masked(check.fix),
        details=_masked(check.details), data=_masked(check.data))


def text(checks, out):
    """One line per check, then whether Glance is ready."""
    checks = [_shown_check(check) for check in checks]
    for check in checks:
        out.write(f'{check.status.upper():<{STATUS_WIDTH}} '
                  f'{check.title:<{TITLE_WIDTH}} {check.summary}\n')
        for line in check.details:
            out.write(f'{INDENT}{line}\n')
        if check.fix:
            out.write(f'{INDENT}To fix: {check.fix}\n')
    failed = [check.title for check in checks
              if check.status == result.FAIL]
    unknown = [check.title for check in checks
               if check.status == result.UNKNOWN]
    if failed:
        out.write(f"Not ready: fix {', '.join(failed)}.\n")
    else:
        out.write(f'Ready: Glance can serve {protocol.METHOD}.\n')
    if unknown:
        out.write(f"Not checked: {', '.join(unknown)}.\n")


def as_json(checks, out):
    """``ready``, ``version`` and the checks, as one JSON document."""
    json.dump({'ready': runner.ready(checks), 'version': result.version(),
               'checks': [dataclasses.asdict(_shown_check(check))
                          for check in checks]},
              out, indent=2, sort_keys=True, default=str)
    out.write('\n')


def repaired(report, out):
    """What --repair did, from sweep's report of it."""
    for done in report.recovered:
        out.write(f"Repaired image {done.image_id} (task {done.task_id}, "
                  f"{done.reason}): "
                  f"{', '.join(done.steps) or 'nothing left to do'}; removed "
                  f"{', '.join(done.removed) or 'no staged data'}.\n")
    for staged in report.parts_removed:
        out.write(f'Removed orphan part file {staged.describe()}.\n')
    if not (report.recovered or report.parts_removed):
        out.write('Nothing to repair.\n')
