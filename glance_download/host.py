"""The boundary with Glance: the only module that imports it.

Everything the plugin needs from its host goes through here: the global
configuration, the staging location Glance's next task reads, Glance's
import filtering, the exception type whose text Glance writes into the
failed task, the task record used for progress, and the hard-coded
glance-download step of Glance's import flow.  A Glance upgrade should
touch this file only; tests/unit/test_host.py checks these contracts
against the installed Glance.
"""

import importlib
import logging

from oslo_config import cfg

from glance.async_.flows import api_image_import
from glance.common import exception as glance_exc
from glance.common import store_utils
from glance.common import utils as glance_utils

from glance_download import errors

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

# ------------------------------------------------------------------------


def url_allowed(url):
    """Whether [import_filtering_opts] allows fetching from ``url``."""
    return _import_filter()(url)


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
            '(%s); glance-download needs one. Ask your cloud operator to '
            'check node_staging_uri or [os_glance_staging_store].'
            % staging_dir)
    return file_uri, file_uri[len('file://'):]


class TaskReporter(object):
    """Writes progress into the task and stops if the import was abandoned."""

    def __init__(self, task_repo, task_id, action_wrapper):
        self.task_repo = task_repo
        self.task_id = task_id
        self.action_wrapper = action_wrapper

    def _check(self):
        try:
            self.action_wrapper.assert_task_lock()
        except glance_exc.TaskAbortedError:
            raise errors.Aborted(
                'Another import took over the target image; this download '
                'stopped.') from None
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


# Reading Glance's configuration outside glance-api, for
# glance-download-status: the same files and the same options glance-api
# has once it is running.

def glance_api_config_files():
    """The files glance-api reads when it is started without arguments.

    That is ``glance-api.conf`` (and ``glance-image-import.conf`` when
    present) in ``$OS_GLANCE_CONFIG_DIR``, ``/etc/glance`` by default, as
    Glance's WSGI application finds them.
    """
    from glance.common import wsgi_app
    return wsgi_app._get_config_files()


def parse_config(args, **kwargs):
    """Parse ``args`` and Glance's configuration files into CONF.

    Without ``--config-file``, the files are glance-api's own. The
    ``[keystone_authtoken]`` options are registered as keystonemiddleware,
    in Glance's pipeline, registers them. ``kwargs`` go to oslo.config
    (prog, version, description).
    """
    try:
        import keystonemiddleware.auth_token  # noqa: F401 registers options
    except ImportError:
        pass
    CONF(args=args, project='glance',
         default_config_files=glance_api_config_files(),
         default_config_dirs=cfg.find_config_dirs(project='glance',
                                                  prog='glance-api'),
         **kwargs)


def register_staging_store_opts():
    """Register ``[os_glance_staging_store]`` as glance-api does at start.

    Only with multiple stores (``enabled_backends``), where it is the
    staging area; glance_store then registers the reserved stores' options.
    A group registered before in this process is kept.
    """
    if not CONF.enabled_backends or 'os_glance_staging_store' in CONF:
        return
    import glance_store
    from glance.common import wsgi_app
    glance_store.register_store_opts(
        CONF, reserved_stores=wsgi_app.RESERVED_STORES)
