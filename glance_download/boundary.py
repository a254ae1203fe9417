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

"""The boundary with Glance: the only module that imports it.

Everything the plugin needs from its host goes through here: the global
configuration, the staging location Glance's next task reads, Glance's
import filtering, the exception type whose text Glance writes into the
failed task, the task record used for progress, and the hard-coded
glance-download step of Glance's import flow.  A Glance upgrade should
touch this file only (and, for the console scripts' reading of Glance's
configuration, glance_download/cmd/glance_config.py);
tests/unit/test_boundary.py checks these contracts against the installed
Glance.
"""

import contextlib
import functools
import importlib
import logging
import os
import socket
import time
import urllib.parse

from oslo_config import cfg
from oslo_utils import timeutils
from oslo_utils import uuidutils

from glance.api import common as api_common
from glance.api.v2 import images as v2_images
from glance.async_.flows import api_image_import
from glance.common import exception as glance_exc
from glance.common import store_utils
from glance.common import utils as glance_utils
from glance import context as glance_context
import glance.db
from glance import domain

from glance_download import errors
from glance_download import protocol
from glance_download import recovery

LOG = logging.getLogger(__name__)

CONF = cfg.CONF

PLUGIN_NAMESPACE = 'glance.image_import.internal_plugins'
PLUGIN_NAME = 'glance_download'
IN_TREE_MODULE = 'glance.async_.flows._internal_plugins.glance_download'

# Glance's own get_flow, kept when claim_method() replaces it.
_in_tree = {}

# Glance's task executor writes str(exc) into the task only for this type;
# any other exception becomes "Task failed due to Internal Error".
HostUploadException = glance_exc.UploadException


class ImportFailed(HostUploadException):
    """Ends the import with a message the user reads in the task."""


# ------------------------------------------------ differences of series
#
# Where the supported Glance series (30 to 33) differ, the functions of
# this section choose what the installed one has; the rest of the plugin
# calls the functions above and below them only.

def _import_filter():
    """Glance's check of a URL against [import_filtering_opts].

    Glance 33 calls it ``validate_uri``; Glance 30 to 32 have the same
    check, by scheme, host and port, as ``validate_import_uri``.
    """
    check = getattr(glance_utils, 'validate_uri', None)
    if check is None:
        check = glance_utils.validate_import_uri
    return check


def _retry_on_db_lock(func):
    """Run ``func``, retried while sqlite says the database is locked.

    Glance 33 retries its own saves so with ``retry_on_db_lock``; Glance 30
    to 32 have no such helper and run them once, as their own tasks do.
    """
    retry = getattr(glance_utils, 'retry_on_db_lock', None)
    if retry is None:
        return func()
    return retry(func)


def _resolved_once(url):
    """Glance 30 to 32: the filter's verdict, then one resolution of ours.

    These series check the host by name only and give no address back, so
    the name is resolved here, once, and the connection goes to the first
    address found: a later resolution cannot lead elsewhere either.
    """
    if not url_allowed(url):
        return None
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {'http': 80, 'https': 443}.get(parts.scheme)
    try:
        found = socket.getaddrinfo(parts.hostname, port,
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    return found[0][4][0] if found else None

# ------------------------------------------------------------------------


def url_allowed(url):
    """Whether [import_filtering_opts] allows fetching from ``url``."""
    return _import_filter()(url)


def validated_address(url):
    """The address [import_filtering_opts] allows for ``url``, else None.

    Glance resolves the host once to check where it leads and returns the
    allowed addresses: connecting to the first, rather than to the name,
    means a second resolution cannot lead elsewhere.  On a Glance without
    that function (30 to 32) the name is resolved once here instead.
    """
    validate = getattr(glance_utils, 'get_validated_address', None)
    if validate is None:
        return _resolved_once(url)
    try:
        found = validate(url)
    except ValueError:
        return None
    if isinstance(found, (list, tuple)):
        return str(found[0]) if found else None
    return str(found) if found else None


def staging_target(image_id):
    """(file URI, path) where Glance's import-to-store step reads the data.

    Built exactly as Glance's import flow builds the URI it hands to its
    own tasks: ``os_glance_staging_store`` with multiple stores, else the
    legacy ``node_staging_uri``.
    """
    if CONF.enabled_backends:
        separator, staging_dir = store_utils.get_dir_separator()
    else:
        staging_dir = CONF.node_staging_uri
        separator = '' if staging_dir.endswith('/') else '/'
    file_uri = separator.join((staging_dir, str(image_id)))
    if not file_uri.startswith('file:///'):
        raise errors.InvalidRequest(
            'The staging area of this Glance is not a local directory '
            f'({staging_dir}); glance-download needs one. Ask your cloud '
            'operator to check node_staging_uri or [os_glance_staging_store].')
    return file_uri, file_uri[len('file://'):]


def image_formats():
    """(disk formats, container formats) this Glance's API accepts."""
    return (tuple(CONF.image_format.disk_formats),
            tuple(CONF.image_format.container_formats))


@functools.lru_cache(maxsize=1)
def reserved_names():
    """(names, prefixes) Glance keeps for itself, from its own lists.

    The API's lists of read-only, reserved and disallowed names, the
    attributes of its image schema, the domain's reserved names, and its
    reserved namespace (``os_glance``).  Any list a Glance release lacks
    is skipped: the plugin keeps a floor of its own.
    """
    deserializer = v2_images.RequestDeserializer
    names = set(v2_images.get_base_properties())
    for holder, lists in (
            (deserializer, ('_disallowed_properties', '_readonly_properties',
                            '_reserved_properties', '_base_properties')),
            (domain.ImageFactory, ('_readonly_properties',
                                   '_reserved_properties'))):
        for attr in lists:
            names.update(getattr(holder, attr, ()))
    prefixes = set(getattr(deserializer, '_reserved_namespaces', ()))
    prefixes.add(api_common.GLANCE_RESERVED_NS)
    return frozenset(names), tuple(sorted(prefixes))


@contextlib.contextmanager
def metadata_refusals(copied):
    """Turn Glance refusing the metadata of ``copied`` properties into ours.

    Glance's quota, property protections and policy raise their own
    exceptions while the image is changed or saved; any of them would
    otherwise end the import as "Internal Error".
    """
    try:
        yield
    except glance_exc.ImagePropertyLimitExceeded as exc:
        raise errors.MetadataRefused(
            f'Copying {copied} properties from the source image would give '
            'the target image more properties than this Glance allows: '
            f'[DEFAULT] image_property_quota is {CONF.image_property_quota} '
            f'({exc.msg}). Nothing was changed. Remove properties from the '
            'target image, or ask your cloud operator to raise '
            'image_property_quota or to copy fewer properties '
            '([glance_download_properties] extra_properties), and import '
            'again.') from None
    except glance_exc.NotFound:
        raise errors.Aborted('The target image was deleted; the import '
                             'stopped.') from None
    except glance_exc.TaskAbortedError:
        raise errors.Aborted('Another import took over the target image; '
                             'this import stopped.') from None
    except (glance_exc.Forbidden, glance_exc.Invalid,
            glance_exc.LimitExceeded) as exc:
        raise errors.MetadataRefused(
            "This Glance refused the source image's metadata for the target "
            f"image: {_sentence(exc.msg)} Nothing was changed. Ask your cloud "
            "operator which properties may be set (property protections, "
            "policy), and import again.") from None


def _sentence(text):
    text = str(text).strip()
    return text if text.endswith('.') else text + '.'


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


def image_size_cap():
    """The largest image, in bytes, this Glance accepts (image_size_cap)."""
    return CONF.image_size_cap


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
        _retry_on_db_lock(lambda: self.task_repo.save(task))


def restore_image(action_wrapper, change):
    """Apply ``change(action)`` to the image during a revert, if still ours.

    A revert must not fail because the user deleted the image or another
    import holds it: there is then nothing of ours left to restore.
    """
    try:
        with action_wrapper as action:
            change(action)
    except (glance_exc.NotFound, glance_exc.TaskAbortedError) as exc:
        LOG.warning('Image %s could not be restored after a failed import: '
                    '%s', action_wrapper.image_id, type(exc).__name__)


def mark_failed(action_wrapper, stores):
    """Image back to ``queued``; its importing stores now failed stores.

    Glance allows ``importing -> queued`` only: another revert may have
    queued the image already, and ``queued -> queued`` is refused.
    """
    def change(action):
        if action.image_status == 'importing':
            action.set_image_attribute(status='queued')
        action.remove_importing_stores(stores)
        action.add_failed_stores(stores)
    restore_image(action_wrapper, change)


def copy_metadata(action_wrapper, disk_format, container_format, props):
    """Set the formats and ``props`` on the target image.

    Returns what they replace, as plain data for restore_metadata: the
    formats and each property's former value, None where it had none.
    A refusal by Glance leaves nothing changed and raises ours.
    """
    with metadata_refusals(len(props)), action_wrapper as action:
        current = action.image_extra_properties
        saved = {
            'disk_format': action.image_disk_format,
            'container_format': action.image_container_format,
            'properties': {name: current.get(name) for name in props},
        }
        action.set_image_attribute(disk_format=disk_format,
                                   container_format=container_format)
        action.set_image_extra_properties(props)
    return saved


def restore_metadata(action_wrapper, saved):
    """Put back what copy_metadata returned it had replaced."""
    def change(action):
        action.set_image_attribute(
            disk_format=saved['disk_format'],
            container_format=saved['container_format'])
        for name, value in saved['properties'].items():
            if value is None:
                action.pop_extra_property(name)
        action.set_image_extra_properties(
            {name: value for name, value in saved['properties'].items()
             if value is not None})
    restore_image(action_wrapper, change)


def _in_tree_module():
    try:
        return importlib.import_module(IN_TREE_MODULE)
    except ImportError:
        return None


def claim_method(get_flow):
    """Make Glance build ``get_flow``'s flow for glance-download, always.

    Glance 25 and later register an in-tree plugin under the same name.
    To load the name, stevedore imports and calls every implementation in
    the order it finds them, which follows the directory listing of
    site-packages, and keeps the last. Both are called, so the first call of
    ours points the in-tree entry point at ``get_flow``: if the in-tree one
    comes later, loading it then gives ours. Either order ends with our
    flow, from the first import on.
    """
    module = _in_tree_module()
    if module is None or module.get_flow is get_flow:
        return
    _in_tree.setdefault('get_flow', module.get_flow)
    module.get_flow = get_flow


def in_tree_flow(**kwargs):
    """Glance's own glance-download flow, for operators who choose it."""
    original = _in_tree.get('get_flow')
    if original is None:
        original = getattr(_in_tree_module(), 'get_flow', None)
    if original is None:
        raise errors.InvalidRequest(
            "This Glance has no in-tree glance-download method; set "
            "[glance_download] implementation = plugin.")
    return original(**kwargs)


def _host_metadata_step_skipped(self, *args, **kwargs):
    """Replaces the execute and revert of Glance's own metadata step."""
    return None


def take_over_metadata_step():
    """Leave reading and copying the source's metadata to our flow.

    Glance's import flow adds a metadata task of its own for the
    glance-download method before any internal plugin, and no setting turns
    it off. It would read the source record a second time, copy reserved
    attributes a prefix happens to match, and fail first, with "Internal
    Error" as the only message, on exactly the requests our flow explains.
    Its methods are looked up when the flow runs, so replacing them also
    covers the flow being built while this plugin is first loaded. Its
    revert goes too: it would only set the image to ``queued`` a second
    time after our first task did, which Glance refuses.
    """
    step = getattr(api_image_import, '_ImportMetadata', None)
    if step is None:
        LOG.warning('Glance has no glance-download metadata step to take '
                    'over; its import flow has changed.')
        return False
    step.execute = _host_metadata_step_skipped
    step.revert = _host_metadata_step_skipped
    return True


# Imports whose glance-api stopped (recovery.py decides, sweep.py acts).
# These run outside any request, in glance-api's background or in
# glance-download-status, so they read and write Glance's database as an
# administrator through its own repositories, as Glance's staging
# housekeeping does. ``db_api`` defaults to the configured database.

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
    _retry_on_db_lock(
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
        stores=tuple(task_input.get('backend') or [None]))


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
        _retry_on_db_lock(lambda: task_repo.save(task))
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


def image_status(image_id, db_api=None):
    """The image's status; None when it is deleted or never existed."""
    image_repo, _task_repo = _repos(db_api)
    image = _image_or_none(image_repo, image_id)
    return image.status if image else None


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
    if task_id is not None:
        image_repo, _task_repo = _repos(db_api)
        image = _image_or_none(image_repo, image_id)
        if image is None or image.extra_properties.get(
                IMPORT_LOCK) != task_id:
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
