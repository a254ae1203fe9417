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

"""Glance's store step opening the staged data through boundary.store_feed."""

import os
import tempfile
import unittest

from glance.async_.flows import api_image_import
from glance.common import exception as glance_exc
from glance.common.scripts import utils as script_utils

from glance_download.boundary import store_feed
from glance_download import errors
from glance_download import following
from tests.unit import boundary_fakes


class Verdict:
    def __init__(self, error=None):
        self.error = error
        self.asked = 0

    def verdict(self):
        self.asked += 1
        if self.error:
            raise self.error


def reader_of(opened):
    return opened[0] if isinstance(opened, tuple) else opened


class StoreFeedTest(unittest.TestCase):

    def setUp(self):
        boundary_fakes.restore_glance_after(self)
        self.assertTrue(store_feed.install())
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.path = os.path.join(directory.name, 'image-id')

    def serve(self, size, feed, release=False):
        store_feed.serve(self.path, self.path + '.part', size, feed, 1024,
                         release=release)
        self.addCleanup(store_feed.withdraw, self.path)

    def open(self):
        opened = script_utils.get_image_data_iter('file://' + self.path)
        reader = reader_of(opened)
        self.addCleanup(getattr(reader, 'close', lambda: None))
        return opened, reader

    def test_other_paths_are_glance_s_own(self):
        with open(self.path, 'wb') as f:
            f.write(b'staged')
        opened, reader = self.open()
        self.assertNotIsInstance(reader, following.FollowingReader)
        self.assertEqual(b'staged', reader.read(65536))
        if isinstance(opened, tuple):
            self.assertEqual(6, opened[1])

    def test_a_running_download_is_followed_with_the_source_s_size(self):
        with open(self.path + '.part', 'wb') as f:
            f.truncate(100)
        feed = Verdict()
        self.serve(4096, feed)
        opened, reader = self.open()
        self.assertIsInstance(reader, following.FollowingReader)
        if isinstance(opened, tuple):
            # The source's size, not that of the file still growing.
            self.assertEqual(4096, opened[1])

    def test_the_reader_releases_what_it_served_only_when_told(self):
        with open(self.path + '.part', 'wb') as f:
            f.truncate(100)
        for release in (False, True):
            self.serve(4096, Verdict(), release=release)
            _opened, reader = self.open()
            self.assertEqual(release, reader._release)

    def test_a_download_over_is_read_from_its_file_once_verified(self):
        with open(self.path, 'wb') as f:
            f.write(b'verified')
        feed = Verdict()
        self.serve(8, feed)
        _opened, reader = self.open()
        self.assertEqual(1, feed.asked)
        self.assertEqual(b'verified', reader.read(65536))

    def test_a_download_that_failed_raises_its_error(self):
        feed = Verdict(errors.TransferError('digest mismatch'))
        self.serve(8, feed)
        with self.assertRaisesRegex(errors.TransferError, 'digest mismatch'):
            self.open()

    def test_withdrawn_paths_are_glance_s_own_again(self):
        with open(self.path, 'wb') as f:
            f.write(b'staged')
        store_feed.serve(self.path, self.path + '.part', 6, Verdict(), 1024)
        store_feed.withdraw(self.path)
        _opened, reader = self.open()
        self.assertNotIsInstance(reader, following.FollowingReader)


class DeletedImageRevertTest(unittest.TestCase):

    def test_the_store_step_revert_of_a_deleted_image_passes(self):
        boundary_fakes.restore_glance_after(self)
        step = api_image_import._ImportToStore
        calls = []

        def revert(self, result, **kwargs):
            calls.append(result)
            raise glance_exc.ImageNotFound('gone')
        step.revert = revert
        store_feed._state.clear()
        self.assertTrue(store_feed.install())
        fake = type('Step', (), {'name': 'store-step'})()
        self.assertIsNone(step.revert(fake, 'failure'))
        self.assertEqual(['failure'], calls)

    def test_other_revert_errors_still_raise(self):
        boundary_fakes.restore_glance_after(self)
        step = api_image_import._ImportToStore

        def revert(self, result, **kwargs):
            raise glance_exc.Conflict('taken')
        step.revert = revert
        store_feed._state.clear()
        store_feed.install()
        fake = type('Step', (), {'name': 'store-step'})()
        with self.assertRaises(glance_exc.Conflict):
            step.revert(fake, 'failure')
