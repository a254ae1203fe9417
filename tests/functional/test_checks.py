# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""What the import checks before it copies, and after the last byte.

The formats this Glance accepts, Glance's reserved names in any case, the
property quota, malformed records of a hostile remote (through
SLOW-REGION1's proxy, which can rewrite a record), and a source or target
that changes while the data is copied.  The proxy's one port is shared with
test_faults: .stestr.conf runs both modules in one worker.
"""

import os
import time

from tests.functional import base
from tests.functional import proxy
from tests.functional import test_faults

MIB = 1024 * 1024
# Bounds of the waits for a download to reach a given point.
PROGRESS_TIMEOUT = 60


def wait_until(condition, what, timeout=PROGRESS_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'{what}: not within {int(timeout)} s')
        time.sleep(base.POLL)


class FormatTest(base.FunctionalTest):
    """REGION1 accepts a disk format REGION2 refuses."""

    def test_disk_format_this_glance_refuses(self):
        fmt = self.env['region1_only_disk_format']
        source = self.source_image(data=os.urandom(65536), disk_format=fmt)
        target = self.target_image()
        region2 = self.glance('REGION2')
        response = region2.import_image(
            target['id'], base.glance_download(source['id']))
        self.assertEqual(202, response.status_code, response.text)
        message = self.assert_failed_and_queued(
            region2, target['id'],
            f"has the disk_format '{fmt}', which this Glance does not "
            "accept; it accepts ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2")
        self.assertIn('[image_format] disk_formats', message)
        image = region2.get(target['id'])
        self.assertEqual(('iso', 'bare'), (image['disk_format'],
                                           image['container_format']))
        # The same target, from an image REGION2 accepts.
        good = self.source_image(data=os.urandom(65536))
        self.assert_copied(good, self.import_succeeds(region2, target, good))


class QuotaTest(base.FunctionalTest):
    """Glance's default image_property_quota, 128, in REGION2."""

    def test_more_properties_than_the_quota(self):
        # 5 properties of source_image's own and 123 more: 128, as many as
        # REGION1 allows; REGION2 copies 126 of them (hw_ and os_distro)
        # and adds 2 of provenance, onto a target with 3 of its own.
        many = {f'hw_p{int(i):03}': 'v' for i in range(123)}
        source = self.source_image(data=os.urandom(65536), **many)
        own = {f't{int(i)}': 'x' for i in range(3)}
        target = self.target_image(**own)
        region2 = self.glance('REGION2')
        response = region2.import_image(
            target['id'], base.glance_download(source['id']))
        self.assertEqual(202, response.status_code, response.text)
        message = self.assert_failed_and_queued(
            region2, target['id'], '[DEFAULT] image_property_quota is 128')
        self.assertIn('Copying 128 properties', message)
        self.assertIn('Attempted: 131, Maximum: 128', message)
        self.assertNotIn('Internal Error', message)
        image = region2.get(target['id'])
        self.assertNotIn('hw_p000', image)
        self.assertEqual('x', image['t0'])

        # With the target's own properties removed, it fits exactly.
        response = region2.call(
            'PATCH', f"/v2/images/{target['id']}",
            json=[{'op': 'remove', 'path': '/' + name} for name in own],
            headers={'Content-Type':
                     'application/openstack-images-v2.1-json-patch'})
        self.assertEqual(200, response.status_code, response.text)
        image = self.import_succeeds(region2, target, source)
        self.assertEqual('v', image['hw_p122'])


class ReservedNamesTest(base.FunctionalTest):
    """REGION1 copies with the broad prefixes os_ and l."""

    def test_case_variants_of_reserved_names_are_not_copied(self):
        # Glance's API takes these as ordinary properties: it compares
        # names exactly.
        variants = {'os_GLANCE_import_task': 'x', 'os_Hash_value': 'y',
                    'os_Glance_failed_import': 'z'}
        source = self.source_image(data=os.urandom(8192), region='REGION2',
                                   lang='en', **variants)
        for name, value in variants.items():
            self.assertEqual(value, source[name])
        target = self.target_image(region='REGION1')
        image = self.import_succeeds(self.glance('REGION1'), target, source,
                                     'REGION2')
        for name in variants:
            self.assertNotIn(name, image)
        self.assertEqual('en', image['lang'])
        self.assertEqual('root', image['os_admin_user'])
        self.assertEqual(source['os_hash_value'], image['os_hash_value'])


class HostileRecordTest(test_faults.ProxyTestCase):
    """SLOW-REGION1 serves REGION1's records with fields changed."""

    def test_location_is_never_copied(self):
        source = self.source_image(data=os.urandom(65536))
        target = self.target_image(region='REGION1')
        region1 = self.glance('REGION1')
        self.proxy.add(proxy.Rewrite(fields={
            'location': 'file:///etc/glance/glance-api.conf',
            'Location': 'x', 'OS_GLANCE_IMPORT_TASK': 'y',
            'os_GLANCE_import_task': 'z', 'lang': 'en'}))
        image = self.import_succeeds(region1, target, source, self.region)
        for name in ('location', 'Location', 'OS_GLANCE_IMPORT_TASK',
                     'os_GLANCE_import_task'):
            self.assertNotIn(name, image)
        self.assertEqual('en', image['lang'])

    def test_malformed_fields_fail_with_what_was_wrong(self):
        source = self.source_image(data=os.urandom(MIB))
        target = self.target_image()
        for fields, text in [
                ({'os_hash_value': 12345},
                 "its 'os_hash_value' is 12345, where Glance gives a string "
                 "or null"),
                ({'min_disk': 'big'},
                 "its 'min_disk' is 'big', where Glance gives an integer"),
                ({'tags': 'a,b'},
                 "its 'tags' is 'a,b', where Glance gives a list of "
                 "strings")]:
            self.proxy.add(proxy.Rewrite(fields=fields))
            self.start_import(source, target)
            message = self.assert_failed_and_queued(
                self.region2, target['id'], text)
            self.assertIn(f"malformed record for image {source['id']}",
                          message)
        self.assertEqual([], self.proxy.requests_to('/file'))
        image, task = self.import_through_proxy(source, target)
        self.assert_verified_copy(source, image, task)


class SourceChangedTest(test_faults.ProxyTestCase):
    """The source deactivated or deleted while REGION2 copies it."""

    def data_request_reached(self, offset):
        def reached():
            data = self.proxy.requests_to('/file')
            return data and data[0].body_bytes >= offset
        wait_until(reached, f'the download reaching byte {int(offset)}')

    def deactivate(self, source):
        admin = self.glance('REGION1', self.admin)
        response = admin.call(
            'POST', f"/v2/images/{source['id']}/actions/deactivate")
        self.assertEqual(204, response.status_code, response.text)
        self.addCleanup(admin.call, 'POST',
                        f"/v2/images/{source['id']}/actions/reactivate")
        return admin

    def test_deactivated_after_the_data_left_the_source(self):
        self.proxy.rate = 2 * MIB
        source = self.source_image(data=os.urandom(8 * MIB))
        target = self.target_image()
        self.start_import(source, target)
        self.data_request_reached(MIB)
        admin = self.deactivate(source)
        message = self.assert_failed_and_queued(
            self.region2, target['id'],
            'was deactivated after this import started')
        self.assertIn('nothing was activated', message)
        # The data itself came through whole: only the record told.
        data = self.proxy.requests_to('/file')
        self.assertEqual({200} if len(data) == 1 else {206},
                         {r.status for r in data})
        self.assertEqual(8 * MIB, sum(r.body_bytes for r in data))
        self.assertIsNone(self.region2.get(target['id'])['os_hash_value'])

        admin.call('POST', f"/v2/images/{source['id']}/actions/reactivate")
        self.proxy.rate = None
        image, task = self.import_through_proxy(source, target)
        self.assert_verified_copy(source, image, task)

    def test_deactivated_source_refuses_the_rest_of_the_data(self):
        source = self.source_image(data=os.urandom(test_faults.SIZE))
        target = self.target_image()
        self.proxy.add(proxy.Stall(after=test_faults.BREAK,
                                   seconds=test_faults.STALL))
        self.start_import(source, target)
        self.data_request_reached(test_faults.BREAK)
        self.deactivate(source)
        message = self.assert_failed_and_queued(
            self.region2, target['id'],
            'was deactivated after this import started')
        self.assertNotIn('not allowed', message)
        self.assertEqual([200, 403], [
            r.status for r in self.proxy.requests_to('/file')])

    def test_deleted_during_the_download(self):
        self.proxy.rate = 2 * MIB
        source = self.source_image(data=os.urandom(8 * MIB))
        target = self.target_image()
        self.start_import(source, target)
        self.data_request_reached(MIB)
        response = self.glance('REGION1').call(
            'DELETE', f"/v2/images/{source['id']}")
        self.assertEqual(204, response.status_code, response.text)
        self.assert_failed_and_queued(
            self.region2, target['id'],
            'was deleted, or your project can no longer see it, after this '
            'import started')


class TargetDeletedTest(test_faults.ProxyTestCase):

    def test_target_deleted_during_the_download(self):
        self.proxy.rate = 2 * MIB
        source = self.source_image(data=os.urandom(12 * MIB))
        target = self.target_image()
        self.start_import(source, target)

        def downloading():
            task = self.newest_task(self.region2, target['id'])
            if task and task['message'].startswith('Downloading'):
                return task
        task = wait_until(downloading, 'a progress message')
        self.region2.delete(target['id'])
        admin = self.glance('REGION2', self.admin)

        def ended():
            response = admin.call('GET', f"/v2/tasks/{task['id']}")
            self.assertEqual(200, response.status_code, response.text)
            body = response.json()
            return body if body['status'] in ('success', 'failure') else None
        ended_task = wait_until(ended, 'the task ending',
                                timeout=base.IMPORT_TIMEOUT)
        self.assertEqual('failure', ended_task['status'])
        self.assertIn('The target image was deleted', ended_task['message'])
        self.assertNotIn('took over', ended_task['message'])
        self.assertEqual([], [f for f in self.staged_files()
                              if f.startswith(target['id'])])


class UpstreamGlanceTest(base.FunctionalTest):
    """Glance's own API, before any plugin: see the known issues page."""

    def test_source_id_that_is_not_a_string_is_an_http_500(self):
        target = self.target_image()
        region2 = self.glance('REGION2')
        for value in (12345, None):
            method = base.glance_download('unused')
            method['glance_image_id'] = value
            response = region2.import_image(target['id'], method)
            self.assertEqual(500, response.status_code, response.text)
            self.assertEqual([], region2.tasks(target['id']))
            self.assertEqual('queued', region2.get(target['id'])['status'])
