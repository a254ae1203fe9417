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

"""The import task as the user reads it: progress, and why it failed.

Progress goes into the task's message while the import still holds the
image's lock; a failure's text reaches the task only through Glance's
own exception type.  The method's closing line (where the data came from,
what was verified, whether the store step overlapped the download) stays
in the message through Glance's store step, which writes its own.
"""

import collections
import threading

from glance.async_.flows import api_image_import
from glance.common import exception as glance_exc

from glance_download.boundary import series
from glance_download import errors

# Glance's task executor writes str(exc) into the task only for this type;
# any other exception becomes "Task failed due to Internal Error".
HostUploadException = glance_exc.UploadException


class ImportFailed(HostUploadException):
    """Ends the import with a message the user reads in the task."""


# Closing lines of recent imports, by task id.  Bounded, since a flow
# that ends tells no one: a line outlives its import only until this
# many newer imports concluded.
_CLOSING_KEPT = 1024
_closing = collections.OrderedDict()
_closing_lock = threading.Lock()


def closing_line(task_id):
    with _closing_lock:
        return _closing.get(task_id)


def _keeping_closing_lines(callback):
    """Glance's store-step progress, after the method's closing line.

    ``_ImportToStore._status_callback`` sets the task's message to
    "Copied N MiB" every minute and at the end of each store, so the last
    message of a finished import would otherwise be Glance's alone.
    """
    def status_callback(step, *args, **kwargs):
        result = callback(step, *args, **kwargs)
        line = closing_line(step.task_id)
        if line is not None:
            task = step.task_repo.get(step.task_id)
            if task is not None:
                task.message = f'{line}; {task.message}'
                series.retry_on_db_lock(lambda: step.task_repo.save(task))
        return result
    status_callback.glance_download_original = callback
    return status_callback


def keep_closing_lines():
    """Wrap Glance's store-step progress once per process."""
    step = api_image_import._ImportToStore
    callback = getattr(step, '_status_callback', None)
    if callback is not None and not hasattr(callback,
                                            'glance_download_original'):
        step._status_callback = _keeping_closing_lines(callback)


def _image_deleted(action_wrapper):
    """Whether the target image is gone or on its way out.

    Glance's delete first marks the image deleted and drops its properties,
    the import lock among them, then removes it: a lock that vanished may
    mean a delete, not another import.  The wrapper's repository is the one
    Glance gave the import.
    """
    repo = getattr(action_wrapper, '_image_repo', None)
    if repo is None:
        return False
    try:
        image = repo.get(action_wrapper.image_id)
    except glance_exc.NotFound:
        return True
    return image.status in ('deleted', 'pending_delete')


class TaskReporter:
    """Writes progress into the task and stops if the import was abandoned."""

    def __init__(self, task_repo, task_id, action_wrapper):
        self.task_repo = task_repo
        self.task_id = task_id
        self.action_wrapper = action_wrapper

    def _check(self):
        try:
            self.action_wrapper.assert_task_lock()
        except glance_exc.TaskAbortedError:
            if not _image_deleted(self.action_wrapper):
                raise errors.Aborted(
                    'Another import took over the target image; this '
                    'download stopped.') from None
            raise errors.Aborted(
                'The target image was deleted; the download stopped.'
            ) from None
        except glance_exc.NotFound:
            raise errors.Aborted(
                'The target image was deleted; the download stopped.'
            ) from None
        try:
            task = self.task_repo.get(self.task_id)
        except glance_exc.NotFound:
            task = None
        if task is None or task.status != 'processing':
            raise errors.Aborted(
                'The import task is no longer processing; the download '
                'stopped.')
        return task

    def report(self, message):
        task = self._check()
        task.message = message
        series.retry_on_db_lock(lambda: self.task_repo.save(task))

    def conclude(self, message):
        """Report the method's closing line, kept through the store step."""
        self.report(message)
        with _closing_lock:
            _closing[self.task_id] = message
            _closing.move_to_end(self.task_id)
            while len(_closing) > _CLOSING_KEPT:
                _closing.popitem(last=False)

    def retract(self):
        """Keep no closing line: the import failed after all."""
        with _closing_lock:
            _closing.pop(self.task_id, None)
