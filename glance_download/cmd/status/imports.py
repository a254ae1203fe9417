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

"""Imports: those left by a glance-api that stopped, and their recovery.

Listing changes nothing; ``repair`` recovers them at once, as glance-api's
own sweep does after stale_after.
"""

from glance_download.boundary import config_files
from glance_download.boundary import repositories
from glance_download.boundary import staging
from glance_download.cmd.status import result
from glance_download import options
from glance_download import sweep


def _stale_entry(observed, verdict):
    return {'image_id': observed.image_id, 'task_id': observed.task_id,
            'idle_seconds': int(observed.idle),
            'image_status': observed.image_status, 'reason': verdict.reason}


def check(conf, db_api):
    """Stale imports, and the part files in staging with their images."""
    group = conf[options.GROUP]
    config_files.register_staging_store_opts()
    stale = [_stale_entry(*found) for found in sweep.find_stale(conf, db_api)]
    orphans = {staged.name for staged, _status in sweep.orphan_parts(db_api)}
    parts = []
    details = [f"Stale: image {entry['image_id']} ({entry['image_status']}), "
               f"task {entry['task_id']}: {entry['reason']}"
               for entry in stale]
    for staged in staging.staged_files():
        if not staged.partial:
            continue
        image = repositories.image_status(staged.image_id, db_api)
        parts.append({'name': staged.name, 'image_id': staged.image_id,
                      'image_status': image, 'size': staged.size,
                      'age_seconds': int(staged.age),
                      'orphan': staged.name in orphans})
        orphan = ', orphan' if staged.name in orphans else ''
        details.append(f"Part file {staged.describe()}, image "
                       f"{image or 'deleted'}{orphan}")
    data = {'stale_after': sweep.bound(conf),
            'heartbeat_interval': group.heartbeat_interval,
            'recovery_interval': group.recovery_interval,
            'stale': stale, 'parts': parts}
    within = (f"within {data['stale_after'] + group.recovery_interval:g} s of "
              "glance-api running")
    if stale or orphans:
        return result.Result(
            result.WARN,
            f'{len(stale)} import(s) stopped with their glance-api, '
            f'{len(orphans)} orphan part file(s) in staging.',
            fix='Run glance-download-status --repair, or leave it to '
                f'glance-api: it recovers them {within}.',
            details=details, data=data)
    return result.Result(
        result.OK,
        f'No import stopped with its glance-api; {len(parts)} part file(s) '
        f'of imports in progress. Stopped imports are recovered {within}.',
        details=details, data=data)


def repair(conf, db_api=None):
    """Recover stale imports and orphan part files; sweep's report of it."""
    config_files.register_staging_store_opts()
    return sweep.sweep_once(conf, db_api)
