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

"""Stand-ins for the objects Glance hands to an import plugin.

They imitate Glance's repositories the way its database does: ``get``
returns a fresh copy and only ``save`` makes changes stick, so code that
forgets to save is caught. The action wrapper wrapped around them is
Glance's real ``ImportActionWrapper``.
"""

import copy
import datetime
import importlib
import os
import tempfile
import types
import uuid

from oslo_config import cfg
from oslo_utils import timeutils

from glance.async_.flows import api_image_import
from glance.common import exception as glance_exc
from glance.common.scripts import utils as script_utils
from glance.common import utils as glance_utils
from glance import context as glance_context
import glance.db
from glance.db.simple import api as simple_api
from glance import domain
from glance_store import backend as store_backend

from glance_download.boundary import store_feed
from glance_download.boundary import takeover
from tests.unit import helpers

TOKEN = 'gAAAAA-user-token-' + uuid.uuid4().hex


class FakeImage:
    """An image record that refuses the status changes Glance refuses."""

    valid_state_targets = domain.Image.valid_state_targets

    @property
    def status(self):
        return self._status

    @status.setter
    def status(self, status):
        current = getattr(self, '_status', None)
        if current is not None and (
                status not in self.valid_state_targets[current]):
            raise glance_exc.InvalidImageStatusTransition(
                cur_status=current, new_status=status)
        self._status = status

    def __init__(self, image_id, **attrs):
        self.image_id = image_id
        self.status = 'importing'
        self.disk_format = 'raw'
        self.container_format = 'bare'
        self.size = None
        self.virtual_size = None
        self.checksum = None
        self.os_hash_algo = None
        self.os_hash_value = None
        self.locations = []
        self.extra_properties = {}
        for name, value in attrs.items():
            setattr(self, name, value)


class FakeImageRepo:
    """Glance's image repository; refuses what its quota and protections do.

    ``property_quota`` counts properties outside Glance's reserved
    namespace, as Glance's quota layer does, and raises its exception when
    a save would exceed it; ``protected`` names are refused as Glance's
    property protections refuse them.
    """

    def __init__(self):
        self.images = {}
        self.saves = 0
        self.property_quota = None
        self.protected = ()

    def _refuse(self, image):
        props = image.extra_properties
        for name in self.protected:
            if name in props:
                raise glance_exc.ReservedProperty(property=name)
        if self.property_quota is not None:
            counted = [n for n in props if not n.startswith('os_glance')]
            if len(counted) > self.property_quota:
                raise glance_exc.ImagePropertyLimitExceeded(
                    attempted=len(counted), maximum=self.property_quota)

    def add(self, image):
        self.images[image.image_id] = copy.deepcopy(image)
        return image

    def get(self, image_id):
        try:
            return copy.deepcopy(self.images[image_id])
        except KeyError:
            raise glance_exc.ImageNotFound(image_id=image_id) from None

    def save(self, image, from_state=None):
        if image.image_id not in self.images:
            raise glance_exc.ImageNotFound(image_id=image.image_id)
        self._refuse(image)
        self.saves += 1
        self.images[image.image_id] = copy.deepcopy(image)

    def delete_property_atomic(self, image, name, value):
        stored = self.images[image.image_id]
        if stored.extra_properties.get(name) != value:
            raise glance_exc.NotFound()
        del stored.extra_properties[name]

    def delete(self, image_id):
        del self.images[image_id]

    def mark_deleted(self, image_id):
        """The first half of Glance's delete: status and properties go."""
        stored = self.images[image_id]
        stored.status = 'deleted'
        stored.extra_properties = {}


class FakeTaskRepo:

    def __init__(self, task_id):
        self.task = types.SimpleNamespace(task_id=task_id,
                                          status='processing', message='')
        self.messages = []

    def get(self, task_id):
        if task_id != self.task.task_id:
            raise glance_exc.NotFound()
        return copy.copy(self.task)

    def save(self, task):
        self.task = copy.copy(task)
        self.messages.append(task.message)


class HostObjects:
    """A target image locked by a processing task, as Glance sets it up."""

    def __init__(self, stores=('fast',), **image_attrs):
        self.image_id = str(uuid.uuid4())
        self.task_id = str(uuid.uuid4())
        self.stores = list(stores)
        self.image_repo = FakeImageRepo()
        props = {'os_glance_import_task': self.task_id,
                 'os_glance_importing_to_stores': ','.join(
                     s for s in self.stores if s)}
        props.update(image_attrs.pop('extra_properties', {}))
        self.image_repo.add(FakeImage(self.image_id, extra_properties=props,
                                      **image_attrs))
        self.task_repo = FakeTaskRepo(self.task_id)
        self.action_wrapper = api_image_import.ImportActionWrapper(
            self.image_repo, self.image_id, self.task_id)

    @property
    def image(self):
        return self.image_repo.images[self.image_id]


def context(catalog, token=TOKEN):
    return types.SimpleNamespace(auth_token=token, service_catalog=catalog)


def catalog(region1_url, region2_url='http://127.0.0.1:1'):
    return [{'type': 'image', 'name': 'glance', 'endpoints': [
        {'region': 'REGION1', 'publicURL': region1_url,
         'internalURL': region1_url},
        {'region': 'REGION2', 'publicURL': region2_url}]}]


def restore_glance_after(test):
    """Undo, after the test, what the plugin changes in Glance's modules."""
    in_tree = importlib.import_module(takeover.IN_TREE_MODULE)
    test.addCleanup(setattr, in_tree, 'get_flow', in_tree.get_flow)
    for method in ('execute', 'revert'):
        test.addCleanup(setattr, api_image_import._ImportMetadata, method,
                        getattr(api_image_import._ImportMetadata, method))
    test.addCleanup(takeover._in_tree.clear)
    test.addCleanup(setattr, script_utils, 'get_image_data_iter',
                    script_utils.get_image_data_iter)
    test.addCleanup(store_feed._state.clear)
    for method in ('revert', '_status_callback'):
        test.addCleanup(setattr, api_image_import._ImportToStore, method,
                        getattr(api_image_import._ImportToStore, method))


def register_staging_store_group():
    """The reserved staging store's group, as glance_store registers it."""
    try:
        cfg.CONF.register_opt(cfg.StrOpt('filesystem_store_datadir'),
                              group='os_glance_staging_store')
    except cfg.DuplicateOptError:
        pass


def file_store(test):
    """A filesystem default store in a directory of the test's; it."""
    try:
        store_backend.register_opts(cfg.CONF)
    except cfg.DuplicateOptError:
        pass
    directory = tempfile.TemporaryDirectory()
    test.addCleanup(directory.cleanup)
    for name, value in (('default_store', 'file'),
                        ('filesystem_store_datadir', directory.name)):
        helpers.override(test, name, value, group='glance_store')
    return directory.name


class GlanceDatabase:
    """Glance's own in-memory database, emptied for a test.

    glance.db.simple, with a staging directory: imports as a dead or live
    glance-api leaves them, for boundary.repositories' functions to read
    and change.
    """

    def __init__(self, test, staging=None):
        """``staging``: a directory the test's configuration names."""
        self.api = simple_api
        self.api.reset()
        test.addCleanup(self.api.reset)
        self.context = glance_context.get_admin_context()
        self.staging = staging
        if staging is not None:
            return
        directory = tempfile.TemporaryDirectory()
        test.addCleanup(directory.cleanup)
        self.staging = directory.name
        for name, value in (('enabled_backends', None),
                            ('node_staging_uri', 'file://' + self.staging)):
            helpers.override(test, name, value)

    def add_import(self, idle, method='glance-download',
                   task_status='processing', image_status='importing',
                   locked=True, stores=('fast',)):
        """(image id, task id) of an import last written ``idle`` s ago."""
        image_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
        props = {'os_glance_importing_to_stores': ','.join(stores)}
        if locked:
            props['os_glance_import_task'] = task_id
        self.api.image_create(self.context, {
            'id': image_id, 'status': image_status, 'owner': 'p1',
            'visibility': 'private', 'properties': props})
        written = timeutils.utcnow() - datetime.timedelta(seconds=idle)
        self.api.task_create(self.context, {
            'id': task_id, 'type': 'api_image_import',
            'status': task_status, 'owner': 'p1', 'image_id': image_id,
            'input': {'image_id': image_id, 'backend': list(stores),
                      'import_req': {'method': {'name': method}}},
            'created_at': written, 'updated_at': written})
        return image_id, task_id

    def image(self, image_id):
        return glance.db.ImageRepo(self.context, self.api).get(image_id)

    def task(self, task_id):
        return glance.db.TaskRepo(self.context, self.api).get(task_id)

    def delete_image(self, image_id):
        self.api.image_destroy(self.context, image_id)

    def stage(self, name, data=b'partial'):
        path = os.path.join(self.staging, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def staged(self):
        return sorted(os.listdir(self.staging))

    def locate(self, image_id, url):
        """Record ``url`` as a location of the image."""
        self.api.image_update(self.context, image_id, {'locations': [
            {'url': url, 'metadata': {}, 'status': 'active'}]})


def resolver_modules():
    """The socket modules whose getaddrinfo a test must replace.

    Glance 30 to 32 resolve names in their import filtering through
    eventlet's green socket module, not the standard library's.
    """
    import socket
    found = [socket]
    used = getattr(glance_utils, 'socket', socket)
    if used is not socket:
        found.append(used)
    return found
