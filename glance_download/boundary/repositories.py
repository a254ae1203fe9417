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

"""Glance's database, for the imports whose glance-api stopped.

recovery.py decides, sweep.py acts, through these.  They run outside any
request, in glance-api's background or in glance-download-status, so they
read and write Glance's database as an administrator through its own
repositories, as Glance's staging housekeeping does.  ``db_api`` defaults
to the configured database.
"""

from oslo_utils import timeutils

from glance.async_.flows import api_image_import
from glance.common import exception as glance_exc
from glance import context as glance_context
import glance.db

from glance_download.boundary import series
from glance_download import protocol
from glance_download import recovery

IMPORT_TASK_TYPE = 'api_image_import'
IMPORT_LOCK = protocol.IMPORT_LOCK


def _repos(db_api):
    db_api = db_api or glance.db.get_api()
    context = glance_context.get_admin_context()
    return (glance.db.ImageRepo(context, db_api),
            glance.db.TaskRepo(context, db_api))


def _image_or_none(image_repo, image_id):
    try:
        return image_repo.get(image_id)
    except glance_exc.NotFound:
        return None


def touch_task(task_id, image_id, db_api=None):
    """The heartbeat: mark the task written now, if it is still ours.

    Only the task's ``updated_at`` changes, so that the write never undoes
    a status or message Glance's own steps wrote in between. False once the
    task is no longer processing or the image no longer locked by it.
    """
    image_repo, task_repo = _repos(db_api)
    try:
        task = task_repo.get(task_id)
    except glance_exc.NotFound:
        return False
    image = _image_or_none(image_repo, image_id)
    if (task.status != 'processing' or image is None
            or image.extra_properties.get(IMPORT_LOCK) != task_id):
        return False
    series.retry_on_db_lock(
        lambda: task_repo.db_api.task_update(task_repo.context, task_id, {}))
    return True


def processing_import_tasks(db_api=None, now=None):
    """``(task id, seconds since last written)`` of processing imports."""
    _image_repo, task_repo = _repos(db_api)
    now = now or timeutils.utcnow()
    stubs = task_repo.list(filters={'status': 'processing',
                                    'type': IMPORT_TASK_TYPE})
    return [(stub.task_id, (now - stub.updated_at).total_seconds())
            for stub in stubs]


def observe_import(task_id, db_api=None, now=None):
    """The import task and its image as recovery.decide reads them.

    None when the task is gone.
    """
    image_repo, task_repo = _repos(db_api)
    try:
        task = task_repo.get(task_id)
    except glance_exc.NotFound:
        return None
    task_input = task.task_input if isinstance(task.task_input, dict) else {}
    request = task_input.get('import_req') or {}
    method = (request.get('method') or {}).get('name')
    image_id = task_input.get('image_id') or task.image_id
    image = _image_or_none(image_repo, image_id) if image_id else None
    now = now or timeutils.utcnow()
    return recovery.Observed(
        task_id=task.task_id, task_status=task.status, method=method,
        idle=(now - task.updated_at).total_seconds(), image_id=image_id,
        image_status=image.status if image else None,
        lock=image.extra_properties.get(IMPORT_LOCK) if image else None,
        stores=tuple(task_input.get('backend') or [None]),
        locations=tuple(location.get('url') for location in (
            image.locations if image else ())))


def queue_stranded_image(image_id, task_id, stores, db_api=None):
    """``importing`` -> ``queued``, importing stores failed; True if done.

    Glance's action wrapper checks that ``task_id`` holds the lock before
    and after, and saves only if the image is still ``importing`` in the
    database: of several processes trying at once, one succeeds.
    """
    image_repo, _task_repo = _repos(db_api)
    wrapper = api_image_import.ImportActionWrapper(image_repo, image_id,
                                                   task_id)
    try:
        with wrapper as action:
            action.set_image_attribute(status='queued')
            action.remove_importing_stores(stores)
            action.add_failed_stores(stores)
    except (glance_exc.NotFound, glance_exc.TaskAbortedError,
            glance_exc.Conflict, glance_exc.InvalidImageStatusTransition):
        return False
    return True


def fail_stranded_task(task_id, message, db_api=None):
    """Fail a task still processing with ``message``; True if done."""
    _image_repo, task_repo = _repos(db_api)
    try:
        task = task_repo.get(task_id)
        if task.status != 'processing':
            return False
        task.fail(message)
        series.retry_on_db_lock(lambda: task_repo.save(task))
    except (glance_exc.NotFound, glance_exc.InvalidTaskStatusTransition):
        return False
    return True


def release_import_lock(image_id, task_id, db_api=None):
    """Drop the image's import lock if ``task_id`` holds it; True if so."""
    image_repo, _task_repo = _repos(db_api)
    wrapper = api_image_import.ImportActionWrapper(image_repo, image_id,
                                                   task_id)
    try:
        wrapper.drop_lock_for_task()
    except glance_exc.NotFound:
        return False
    return True


def import_lock(image_id, db_api=None):
    """The id of the task holding the image's import lock, else None.

    None as well when the image is deleted or never existed.
    """
    image_repo, _task_repo = _repos(db_api)
    image = _image_or_none(image_repo, image_id)
    return image.extra_properties.get(IMPORT_LOCK) if image else None


def image_status(image_id, db_api=None):
    """The image's status; None when it is deleted or never existed."""
    image_repo, _task_repo = _repos(db_api)
    image = _image_or_none(image_repo, image_id)
    return image.status if image else None
