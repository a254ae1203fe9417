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

"""Content already in the target region: the decisions, the copy, the flow.

The decisions are pure functions; the copy writes a real staging file;
boundary.local_images runs over Glance's own database code and policy
with real request contexts; the flow is the whole import against a local
source server, with this region's images stood in for.
"""

import hashlib
import os
import shutil
import tempfile
import unittest
from unittest import mock
import uuid

from oslo_config import cfg

from glance import context as glance_context

from glance_download.boundary import local_images
from glance_download import errors
from glance_download import options
from glance_download import progress
from glance_download import twin
from tests.unit import boundary_fakes
from tests.unit import helpers
from tests.unit import test_tasks

DATA = test_tasks.DATA
KEY = ('sha512', hashlib.sha512(DATA).hexdigest())
SIZE = len(DATA)
# Bytes per piece of a fake store's data.
PIECE = 65536


def candidate(**fields):
    values = dict(image_id=str(uuid.uuid4()), status='active',
                  os_hash_algo=KEY[0], os_hash_value=KEY[1], size=SIZE,
                  owner='p1', created_at='2026-01-01T00:00:00', locations=1)
    values.update(fields)
    return twin.Candidate(**values)


class SearchKeyTest(unittest.TestCase):

    def source(self, **fields):
        record = {'os_hash_algo': KEY[0], 'os_hash_value': KEY[1],
                  'size': SIZE}
        record.update(fields)
        return record

    def test_looked_for_by_the_digest_the_copy_is_verified_with(self):
        self.assertEqual(KEY, twin.search_key(self.source(), KEY, True))
        upper = self.source(os_hash_value=KEY[1].upper())
        self.assertEqual(KEY, twin.search_key(upper, KEY, True))

    def test_not_looked_for(self):
        for source, digest, enabled, cap in [
                (self.source(), KEY, False, None),
                (self.source(), None, True, None),
                # Verified with md5: the multihash is not this host's.
                (self.source(), ('md5', 'a' * 32), True, None),
                (self.source(os_hash_value=None), KEY, True, None),
                (self.source(size=None), KEY, True, None),
                (self.source(), KEY, True, SIZE - 1)]:
            self.assertIsNone(twin.search_key(source, digest, enabled, cap))


class ChooseTest(unittest.TestCase):

    def test_only_active_images_with_the_same_hash_and_size(self):
        good = candidate()
        others = [candidate(status='deactivated'),
                  candidate(os_hash_algo='sha256'),
                  candidate(os_hash_value='0' * 128),
                  candidate(size=SIZE + 1), candidate(locations=0),
                  candidate(image_id='target')]
        self.assertEqual([good], twin.choose(others + [good], KEY, SIZE,
                                             'target', 'p1'))

    def test_own_images_first_then_oldest_then_by_id(self):
        theirs = candidate(owner='p2', created_at='2020-01-01T00:00:00')
        new = candidate(created_at='2026-02-01T00:00:00')
        a = candidate(image_id='a')
        b = candidate(image_id='b')
        self.assertEqual([a, b, new], twin.choose(
            [theirs, new, b, a], KEY, SIZE, 'target', 'p1'))
        self.assertEqual(twin.MAX_TRIED, len(twin.choose(
            [candidate() for _ in range(5)], KEY, SIZE, 't', 'p1')))

    def test_closing_message_says_where_the_data_came_from(self):
        result = twin.CopyResult(twin_id='twin-1', bytes=SIZE,
                                 algorithm='sha512', seconds=0.2)
        line = twin.describe_done(result, 'REGION1')
        self.assertTrue(line.startswith(progress.DONE_PREFIX), line)
        self.assertIn('found in this region as image twin-1, 0 bytes crossed '
                      'the link', line)
        self.assertIn('sha512 verified', line)


class CopyToStagingTest(unittest.TestCase):

    def setUp(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        self.path = os.path.join(directory, 'image')

    def copy(self, chunks, digest=KEY, size=SIZE, report=None):
        return twin.copy_to_staging('twin-1', chunks, self.path, size,
                                    digest, report, interval=0.0)

    def test_copied_and_verified(self):
        messages = []
        result = self.copy(iter([DATA[:1000], DATA[1000:]]),
                           report=messages.append)
        with open(self.path, 'rb') as f:
            self.assertEqual(DATA, f.read())
        self.assertEqual((SIZE, 'sha512'), (result.bytes, result.algorithm))
        self.assertEqual(['image'], os.listdir(os.path.dirname(self.path)))
        self.assertTrue(messages[-1].startswith(
            'Copying from image twin-1 in this region: '), messages)

    def assert_nothing_left(self):
        self.assertEqual([], os.listdir(os.path.dirname(self.path)))

    def test_different_data_leaves_nothing(self):
        changed = bytes([DATA[0] ^ 1]) + DATA[1:]
        with self.assertRaises(errors.VerificationError):
            self.copy(iter([changed]))
        self.assert_nothing_left()

    def test_more_or_fewer_bytes_leave_nothing(self):
        for chunks in ([DATA, b'x'], [DATA[:-1]]):
            with self.assertRaises(errors.VerificationError):
                self.copy(iter(chunks))
            self.assert_nothing_left()

    def test_unreadable_store_leaves_nothing(self):
        def broken():
            yield DATA[:1000]
            raise twin.Unusable('reading it failed (IOError)')
        with self.assertRaises(twin.Unusable):
            self.copy(broken())
        self.assert_nothing_left()

    def test_abort_stops_the_copy(self):
        def report(message):
            raise errors.Aborted('The target image was deleted.')
        with self.assertRaises(errors.Aborted):
            self.copy(iter([DATA[:1000], DATA[1000:]]), report=report)
        self.assert_nothing_left()


class LocalImagesTest(unittest.TestCase):
    """Visibility is the caller's, through Glance's own repository."""

    def setUp(self):
        # Parsed from a file, as glance-api's: Glance's policy finds its
        # own file through it.
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, 'glance-api.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\n')
        self.config_files = [path]
        cfg.CONF(['--config-file', path], project='glance-download-test')
        self.addCleanup(cfg.CONF.clear)
        self.db = boundary_fakes.GlanceDatabase(self)
        self.mine = self.add('p1', 'private')
        self.theirs = self.add('p2', 'private')
        self.public = self.add('p2', 'public')

    def add(self, owner, visibility, **fields):
        image_id = str(uuid.uuid4())
        values = {'id': image_id, 'status': 'active', 'owner': owner,
                  'visibility': visibility, 'size': SIZE,
                  'os_hash_algo': KEY[0], 'os_hash_value': KEY[1],
                  'locations': [{'url': f'file:///nowhere/{image_id}',
                                 'metadata': {}, 'status': 'active'}]}
        values.update(fields)
        self.db.api.image_create(self.db.context, values)
        return image_id

    def context(self, project):
        return glance_context.RequestContext(
            project_id=project, user_id='u-' + project,
            roles=['member', 'reader'],
            is_admin=False)

    def found(self, project):
        return {c.image_id for c in local_images.find(
            self.context(project), *KEY, 20, db_api=self.db.api)}

    def test_another_project_s_private_image_is_never_found(self):
        self.assertEqual({self.mine, self.public}, self.found('p1'))
        self.assertEqual({self.theirs, self.public}, self.found('p2'))
        self.assertEqual({self.public}, self.found('p3'))

    def test_only_active_images_with_this_hash(self):
        self.add('p1', 'private', status='deactivated')
        self.add('p1', 'private', os_hash_value='0' * 128)
        self.assertEqual({self.mine, self.public}, self.found('p1'))

    def test_glance_api_s_configuration_is_left_as_it_is(self):
        # Glance's get_enforcer() parses the configuration again, which
        # drops what glance-api read from its files.
        local_images._enforcer.cache_clear()
        self.found('p1')
        self.assertEqual(self.config_files, cfg.CONF.config_file)

    def test_another_project_s_private_image_is_never_read(self):
        with self.assertRaises(twin.Unusable):
            local_images.open_data(self.context('p1'), self.theirs,
                                   db_api=self.db.api)

    def test_the_candidate_as_read(self):
        found = local_images.find(self.context('p1'), *KEY, 20,
                                  db_api=self.db.api)
        mine = [c for c in found if c.image_id == self.mine][0]
        self.assertEqual(('active', KEY[0], KEY[1], SIZE, 'p1', 1),
                         (mine.status, mine.os_hash_algo, mine.os_hash_value,
                          mine.size, mine.owner, mine.locations))


class FakeLocalImages:
    """This region's images as boundary.local_images returns them.

    ``images`` maps an id to (candidate, data); data that is an exception
    is raised while the data is read.
    """

    def __init__(self, test):
        self.images = {}
        self.opened = []
        self.contexts = []
        for name in ('find', 'open_data'):
            patcher = mock.patch.object(local_images, name,
                                        getattr(self, name))
            patcher.start()
            test.addCleanup(patcher.stop)

    def add(self, data=DATA, **fields):
        found = candidate(**fields)
        self.images[found.image_id] = (found, data)
        return found.image_id

    def find(self, context, algorithm, value, limit):
        self.contexts.append(context)
        return [c for c, _ in self.images.values()]

    def open_data(self, context, image_id):
        self.opened.append(image_id)
        found, data = self.images[image_id]

        def chunks():
            if isinstance(data, Exception):
                yield b'x' * 10
                raise data
            yield from (data[i:i + PIECE] for i in range(0, len(data), PIECE))
        return found, chunks()


class TwinFlowTest(test_tasks.FlowTestBase):
    """The whole import, with images of this region standing in."""

    def setUp(self):
        super().setUp()
        self.cfg.config(reuse_local_copies=True, group=options.GROUP)
        self.local = FakeLocalImages(self)

    def data_requests(self):
        return [r for r in self.glance.requests if r.path.endswith('/file')]

    def test_twin_copied_and_nothing_crosses_the_link(self):
        twin_id = self.local.add()
        self.run_import()
        self.assert_staged()
        self.assertEqual([], self.data_requests())
        self.assertEqual([twin_id], self.local.opened)
        messages = self.objs.task_repo.messages
        self.assertIn(f'found in this region as image {twin_id}, 0 bytes '
                      'crossed the link', messages[-1])
        self.assertEqual('importing', self.objs.image.status)

    def test_twin_with_other_data_falls_back_to_the_download(self):
        # Recorded with the source's hash, holding other bytes.
        twin_id = self.local.add(data=bytes([DATA[0] ^ 1]) + DATA[1:])
        self.run_import()
        self.assert_staged()
        self.assertEqual([twin_id], self.local.opened)
        self.assertTrue(self.data_requests())
        messages = self.objs.task_repo.messages
        self.assertTrue(any(f'Image {twin_id} in this region' in m and
                            "differs from the source's digest" in m
                            for m in messages), messages)
        self.assertTrue(messages[-1].startswith('Downloaded 3.0 MiB'),
                        messages)

    def test_unreadable_twin_then_a_good_one(self):
        bad = self.local.add(data=twin.Unusable('reading it failed'),
                             created_at='2020-01-01T00:00:00')
        good = self.local.add()
        self.run_import()
        self.assert_staged()
        self.assertEqual([bad, good], self.local.opened)
        self.assertEqual([], self.data_requests())

    def test_no_twin_downloads(self):
        self.local.add(os_hash_value='0' * 128)
        self.run_import()
        self.assert_staged()
        self.assertEqual([], self.local.opened)
        self.assertTrue(self.data_requests())

    def test_option_off_never_looks(self):
        helpers.override(self, 'reuse_local_copies', False,
                         group=options.GROUP)
        self.local.add()
        self.run_import()
        self.assert_staged()
        self.assertEqual([], self.local.contexts)
        self.assertTrue(self.data_requests())

    def test_twins_are_looked_for_with_the_import_s_own_context(self):
        context = boundary_fakes.context(
            boundary_fakes.catalog(self.glance.url))
        self.local.add()
        self.run_import(context=context)
        self.assertEqual([context], self.local.contexts)

    def test_later_step_failing_removes_the_copy(self):
        self.local.add()
        with self.assertRaises(RuntimeError):
            self.run_import(next_step=test_tasks.NextHostStep(fail=True))
        self.assertEqual([], self.staged_files())
        self.assertEqual('queued', self.objs.image.status)

    def test_source_deactivated_after_the_copy_fails_the_import(self):
        self.local.add()
        real = twin.copy_to_staging

        def copy(*args, **kwargs):
            result = real(*args, **kwargs)
            self.source.update(status='deactivated')
            return result
        with mock.patch.object(twin, 'copy_to_staging', copy):
            self.assert_failed_cleanly('deactivated')
