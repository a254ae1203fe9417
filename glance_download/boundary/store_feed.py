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

"""Glance's store step, fed with the staged data while it still arrives.

Glance's ``_ImportToStore`` opens the staged data through
``glance.common.scripts.utils.get_image_data_iter``, looked up on its
module at each call.  The wrapper installed here serves the paths of
downloads still running (see :func:`serve`) with a following reader, in
the shape that Glance series expects: the reader alone up to series 31,
``(reader, size)`` from 32, where the size is the source's and not the
size of a file still growing.  Every other path, and a download already
verified, goes to Glance's own function unchanged.
"""

import logging
import tempfile
import threading

from glance.async_.flows import api_image_import
from glance.common import exception as glance_exc
from glance.common.scripts import utils as script_utils

from glance_download.boundary import config
from glance_download.boundary import reporting
from glance_download import errors
from glance_download import following

LOG = logging.getLogger(__name__)

_lock = threading.Lock()
_served = {}
_state = {}


def _returns_size(original):
    """Whether Glance's function returns ``(reader, size)``: tried once."""
    with tempfile.NamedTemporaryFile() as probe:
        opened = original('file://' + probe.name)
        reader = opened[0] if isinstance(opened, tuple) else opened
        if hasattr(reader, 'close'):
            reader.close()
        return isinstance(opened, tuple)


class _Reader(following.FollowingReader):
    """The following reader, failing with the text the user is shown."""

    def read(self, size=-1):
        try:
            return super().read(size)
        except errors.GlanceDownloadError as exc:
            raise reporting.ImportFailed(str(exc)) from None


def _revert_of_a_deleted_image(revert):
    """Glance's store step revert, which has nothing to undo without image.

    The store step runs beside the download, so deleting the target image
    fails both; the revert's NotFound would then hide the download's
    message behind "Internal Error".
    """
    def tolerant(step, *args, **kwargs):
        try:
            return revert(step, *args, **kwargs)
        except glance_exc.NotFound:
            LOG.info('The image of %s is gone: no location to remove',
                     step.name)
    tolerant.glance_download_original = revert
    return tolerant


def install():
    """Wrap Glance's function once per process; False if it cannot be."""
    with _lock:
        if 'original' in _state:
            return _state['original'] is not None
        step = api_image_import._ImportToStore
        if not hasattr(step.revert, 'glance_download_original'):
            step.revert = _revert_of_a_deleted_image(step.revert)
        original = getattr(script_utils, 'get_image_data_iter', None)
        try:
            _state['sized'] = original is not None and _returns_size(
                original)
        except Exception:
            original = None
        _state['original'] = original
        if original is None:
            return False

        def get_image_data_iter(uri):
            return _open(uri) or original(uri)
        get_image_data_iter.glance_download_original = original
        script_utils.get_image_data_iter = get_image_data_iter
        return True


def import_plugins():
    """The import plugins Glance runs between our step and the store."""
    try:
        return list(config.CONF.image_import_opts.image_import_plugins or ())
    except (AttributeError, KeyError, LookupError):
        return []


def serve(path, part_path, size, feed, chunk_size, release=False):
    """Serve ``path`` from ``part_path`` as ``feed`` writes it.

    Until :func:`withdraw`: once the data is verified, or on revert.
    ``release``: the reader drops what it served (overlap.releases).
    """
    with _lock:
        _served[path] = (part_path, size, feed, chunk_size, release)


def withdraw(path):
    with _lock:
        _served.pop(path, None)


def _open(uri):
    """A following reader for a download still running; None otherwise."""
    if not uri.startswith('file://'):
        return None
    with _lock:
        served = _served.get(uri[len('file://'):])
    if served is None:
        return None
    part_path, size, feed, chunk_size, release = served
    try:
        reader = _Reader(part_path, size, feed, chunk_size, release=release)
    except FileNotFoundError:
        # The download is over and moved its data to ``path``: verified,
        # or its error is raised here.
        feed.verdict()
        return None
    return (reader, size) if _state.get('sized') else reader
