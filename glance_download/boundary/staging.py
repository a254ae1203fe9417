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

"""The staging area: where Glance's next task reads the data, and its files.

Glance's import-to-store step reads the staged data from the URI its
import flow builds; the recovery and glance-download-status list and
remove the files of images there, as Glance's staging housekeeping names
them.
"""

import logging
import os
import time

from oslo_utils import uuidutils

from glance.common import store_utils

from glance_download.boundary import config
from glance_download.boundary import repositories
from glance_download import errors
from glance_download import recovery

LOG = logging.getLogger(__name__)


def staging_target(image_id):
    """(file URI, path) where Glance's import-to-store step reads the data.

    Built exactly as Glance's import flow builds the URI it hands to its
    own tasks: ``os_glance_staging_store`` with multiple stores, else the
    legacy ``node_staging_uri``.
    """
    if config.CONF.enabled_backends:
        separator, staging_dir = store_utils.get_dir_separator()
    else:
        staging_dir = config.CONF.node_staging_uri
        separator = '' if staging_dir.endswith('/') else '/'
    file_uri = separator.join((staging_dir, str(image_id)))
    if not file_uri.startswith('file:///'):
        raise errors.InvalidRequest(
            'The staging area of this Glance is not a local directory '
            f'({staging_dir}); glance-download needs one. Ask your cloud '
            'operator to check node_staging_uri or [os_glance_staging_store].')
    return file_uri, file_uri[len('file://'):]


def staging_directory():
    """The staging directory, as staging_target() places an image in it."""
    return os.path.dirname(staging_target('image-id')[1])


def staged_files(image_id=None):
    """recovery.StagedFile of each image's file in staging.

    Only names Glance's own housekeeping takes for an image's (a UUID, with
    any extension); only those of ``image_id`` when given.
    """
    directory = staging_directory()
    now = time.time()
    found = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return found
    for entry in entries:
        base = entry.name.split('.', 1)[0]
        if not uuidutils.is_uuid_like(base):
            continue
        if image_id is not None and base != image_id:
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        found.append(recovery.StagedFile(entry.name, stat.st_size,
                                         max(0.0, now - stat.st_mtime)))
    return sorted(found, key=lambda f: f.name)


def remove_staged(image_id, names, task_id=None, db_api=None):
    """Remove these staged files of ``image_id``; the names removed.

    With ``task_id``, only while that task still holds the image's lock:
    once it is released a new import may write the same names.
    """
    if task_id is not None and repositories.import_lock(
            image_id, db_api) != task_id:
        return []
    directory = staging_directory()
    removed = []
    for name in names:
        if name.split('.', 1)[0] != image_id:
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            continue
        except OSError as exc:
            LOG.warning('Could not remove %s from staging: %s', name,
                        exc.strerror)
            continue
        removed.append(name)
    return removed
