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

"""The client's bounds in time, error texts, endpoints and messages."""

import time
import unittest
from unittest import mock

from keystoneauth1 import access
from keystoneauth1 import fixture
from keystoneauth1.identity import access as access_plugin
from keystoneauth1 import session as ks_session
import requests_mock

from glance_download.client import compare
from glance_download.client import copy
from glance_download.client import error_bodies
from glance_download.client import images
from glance_download.client import plugin
from glance_download.client import report
from glance_download.client import sync
from glance_download.client import timing
from tests.functional import silent

# Error bodies as Glance 2025.x (webob) sends them, read from a real
# glance-api: asked for JSON (what the client asks for), and not.
JSON_409 = ('{"message": "Image ID 86e71f2f-4b81-4a32-b919-0d5dff2e333e '
            'already exists!<br /><br />\\n\\n\\n", "code": "409 Conflict", '
            '"title": "Conflict"}')
JSON_400 = ('{"message": "Unknown import method name \'nope\'.<br /><br />'
            '\\n\\n\\n", "code": "400 Bad Request", "title": "Bad Request"}')
HTML_400 = ('<html>\n <head>\n  <title>400 Bad Request</title>\n </head>\n '
            '<body>\n  <h1>400 Bad Request</h1>\n  Unknown import method name '
            '&#x27;nope&#x27;.<br /><br />\n\n\n\n </body>\n</html>')
HTML_403 = ('<html>\n <head>\n  <title>403 Forbidden</title>\n </head>\n '
            '<body>\n  <h1>403 Forbidden</h1>\n  You are not authorized to '
            'complete publicize_image action.<br /><br />\n\n\n\n </body>\n'
            '</html>')
TEXT_409 = ('409 Conflict\n\nImage with identifier s1 already exists!\n\n')
# keystonemiddleware's, for a token Glance does not accept.
JSON_401 = ('{"error": {"code": 401, "title": "Unauthorized", "message": '
            '"The request you have made requires authentication."}}')

SOURCE = {'id': 's1', 'created_at': '2026-01-01T10:00:00Z',
          'checksum': 'c', 'os_hash_value': 'h', 'status': 'active'}


class ErrorTextTest(unittest.TestCase):

    def test_glance_json(self):
        self.assertEqual('Image ID 86e71f2f-4b81-4a32-b919-0d5dff2e333e '
                         'already exists!', error_bodies.error_text(JSON_409))
        self.assertEqual("Unknown import method name 'nope'.",
                         error_bodies.error_text(JSON_400))

    def test_glance_html(self):
        self.assertEqual("Unknown import method name 'nope'.",
                         error_bodies.error_text(HTML_400))
        self.assertEqual('You are not authorized to complete '
                         'publicize_image action.',
                         error_bodies.error_text(HTML_403))

    def test_plain_text_and_nested_json(self):
        self.assertEqual('Image with identifier s1 already exists!',
                         error_bodies.error_text(TEXT_409))
        self.assertEqual('The request you have made requires '
                         'authentication.', error_bodies.error_text(JSON_401))
        self.assertEqual('Bad image', error_bodies.error_text(
            '{"title": "Bad Request", "description": "Bad image"}'))

    def test_anything_else_is_kept_short(self):
        self.assertEqual('', error_bodies.error_text(None))
        self.assertEqual('[1, 2]', error_bodies.error_text('[1, 2]'))
        self.assertEqual(500, len(error_bodies.error_text('x' * 2000)))


class RequestTimeoutsTest(unittest.TestCase):

    def test_capped_by_what_is_left(self):
        self.assertEqual((10, 30), timing.request_timeouts((10, 30), None))
        self.assertEqual((10, 30), timing.request_timeouts((10, 30), 100))
        self.assertEqual((5, 5), timing.request_timeouts((10, 30), 5))
        self.assertIsNone(timing.request_timeouts((10, 30), 0))
        self.assertIsNone(timing.request_timeouts((10, 30), -1))

    def test_deadline(self):
        now = [100.0]
        timeouts = timing.Timeouts(2, 8, deadline=105, timeout=5,
                                   clock=lambda: now[0])
        self.assertEqual((2, 5), timeouts.for_request())
        now[0] = 105
        self.assertIsNone(timeouts.for_request())
        self.assertEqual((10, 30), timing.Timeouts().for_request())


class SameGlanceTest(unittest.TestCase):

    def test_the_very_same_record(self):
        self.assertTrue(compare.same_glance(SOURCE, dict(SOURCE)))

    def test_anything_else(self):
        self.assertFalse(compare.same_glance(SOURCE, None))
        # A --same-id copy: same id and data, its own time and provenance.
        copy_ = dict(SOURCE, created_at='2026-01-02T10:00:00Z')
        self.assertFalse(compare.same_glance(SOURCE, copy_))
        self.assertFalse(compare.same_glance(SOURCE, dict(
            SOURCE, glance_download_source_image_id='s1')))
        self.assertFalse(compare.same_glance(SOURCE, dict(
            SOURCE, glance_download_source_region='R1')))
        self.assertFalse(compare.same_glance(SOURCE, dict(SOURCE, id='x')))
        self.assertFalse(compare.same_glance(SOURCE, dict(
            SOURCE, os_hash_value='other')))
        # Without a creation time nothing tells: never refused.
        bare = {'id': 's1'}
        self.assertFalse(compare.same_glance(bare, dict(bare)))


def catalog_session(urls):
    """A session whose token lists an image endpoint per region: urls."""
    token = fixture.V3Token(project_id='p1')
    service = token.add_service('image', name='glance')
    for region, url in urls.items():
        service.add_standard_endpoints(public=url, internal=url,
                                       region=region)
    auth = access_plugin.AccessInfoPlugin(
        access.create(body=token, auth_token='tok'))
    return ks_session.Session(auth=auth)


class EndpointTest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.http = requests_mock.Mocker()
        self.http.start()
        self.addCleanup(self.http.stop)

    def test_a_catalog_url_ending_in_v2(self):
        session = catalog_session({'R2': 'http://glance.test:9292/v2/'})
        self.http.get('http://glance.test:9292/v2/info/import',
                      json={'import-methods': {'value': ['glance-download']}})
        glance = images.RegionImages(session, 'R2')
        self.assertEqual(['glance-download'], glance.import_methods())
        self.assertEqual('http://glance.test:9292', glance.url())
        self.assertEqual(['/v2/info/import'],
                         [r.path for r in self.http.request_history])

    def test_a_catalog_url_with_a_path_and_no_version(self):
        session = catalog_session({'R2': 'https://cloud.test/image'})
        self.http.get('https://cloud.test/image/v2/images/x', json={
            'id': 'x'})
        self.assertEqual({'id': 'x'}, images.RegionImages(
            session, 'R2').get('x'))

    def test_each_request_has_both_timeouts(self):
        session = catalog_session({'R2': 'http://glance.test'})
        self.http.get('http://glance.test/v2/images/x', json={'id': 'x'})
        glance = images.RegionImages(session, 'R2', timeouts=timing.Timeouts(
            3, 7))
        glance.get('x')
        self.assertEqual((3, 7), self.http.last_request.timeout)

    def test_no_request_once_the_time_is_over(self):
        session = catalog_session({'R2': 'http://glance.test'})
        glance = images.RegionImages(session, 'R2', timeouts=timing.Timeouts(
            3, 7, deadline=time.monotonic() - 1, timeout=60))
        with self.assertRaises(images.GlanceError) as caught:
            glance.get('x')
        self.assertIn('not sent, the 60 s of --timeout are over',
                      str(caught.exception))
        self.assertEqual([], self.http.request_history)

    def test_an_error_body_shows_its_message_only(self):
        session = catalog_session({'R2': 'http://glance.test'})
        self.http.post('http://glance.test/v2/images', status_code=409,
                       text=JSON_409)
        with self.assertRaises(images.GlanceError) as caught:
            images.RegionImages(session, 'R2').create({})
        self.assertEqual('Creating the copy in region R2: HTTP 409: Image '
                         'ID 86e71f2f-4b81-4a32-b919-0d5dff2e333e already '
                         'exists!', str(caught.exception))


class DeadRegionTest(unittest.TestCase):
    """Real sockets: a Glance that accepts and never answers."""

    def silent(self):
        server = silent.Silent().start()
        self.addCleanup(server.stop)
        return server

    def test_read_timeout(self):
        server = self.silent()
        glance = images.RegionImages(
            catalog_session({'R2': server.url}), 'R2',
            timeouts=timing.Timeouts(1, 0.5))
        started = time.monotonic()
        with self.assertRaises(images.GlanceError) as caught:
            glance.import_methods()
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(
            f'Reading the import methods: Glance in region R2 ({server.url})'
            ' did not answer within 0.5 s (--read-timeout).',
            str(caught.exception))

    def test_the_deadline_cuts_a_read_short(self):
        server = self.silent()
        glance = images.RegionImages(
            catalog_session({'R2': server.url}), 'R2',
            timeouts=timing.Timeouts(1, 30, deadline=time.monotonic() + 0.5,
                                     timeout=9))
        started = time.monotonic()
        with self.assertRaises(images.GlanceError) as caught:
            glance.get('x')
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn('did not answer before the end of the 9 s of '
                      '--timeout', str(caught.exception))


class ClientTimeoutsTest(unittest.TestCase):

    def test_keystone_requests_are_bounded_too(self):
        session = ks_session.Session()
        client = plugin.Client(session, 'R1')
        timeouts = timing.Timeouts(4, 20)
        client.set_timeouts(timeouts)
        self.assertEqual(20, session.timeout)
        self.assertIs(timeouts, client.images('R2').timeouts)

    def test_a_timeout_the_cli_set_is_kept(self):
        session = ks_session.Session(timeout=7)
        plugin.Client(session).set_timeouts(timing.Timeouts(4, 20))
        self.assertEqual(7, session.timeout)


class OptionsTest(unittest.TestCase):

    def parser(self, command_class):
        return command_class(mock.Mock(), mock.Mock()).get_parser('image')

    def test_defaults(self):
        args = self.parser(copy.CopyImage).parse_args(
            ['img', '--to-region', 'R2'])
        self.assertEqual((3600, 10, 30), (
            args.timeout, args.connect_timeout, args.read_timeout))

    def test_bad_values_are_refused_by_both_commands(self):
        for command_class, argv in ((copy.CopyImage, ['img']), (
                sync.SyncImages, [])):
            parser = self.parser(command_class)
            for option, value in (('--timeout', '0'), ('--timeout', '-5'),
                                  ('--timeout', 'soon'),
                                  ('--read-timeout', '0'),
                                  ('--read-timeout', '-1'),
                                  ('--connect-timeout', 'nan'),
                                  ('--connect-timeout', 'inf')):
                with mock.patch('sys.stderr') as stderr:
                    self.assertRaises(SystemExit, parser.parse_args,
                                      argv + ['--to-region', 'R2', option,
                                              value])
                said = ''.join(c.args[0] for c in stderr.write.call_args_list)
                self.assertIn(f'argument {option}', said)
                self.assertIn(value, said)

    def test_fractions_of_seconds(self):
        args = self.parser(sync.SyncImages).parse_args(
            ['--to-region', 'R2', '--read-timeout', '2.5'])
        self.assertEqual(2.5, args.read_timeout)


class MessagesTest(unittest.TestCase):

    def test_failure_lines(self):
        rows = [
            report.Row('R2', 's1', 'c1', 'created', 'active'),
            report.Row('R3', 's1', action='failed', message='No method\n'
                       'offered.', outcome='failed'),
            report.Row('R4', '', action='failed', message='Unreachable',
                       outcome='failed'),
            report.Row('R5', 's1', 'c5', 'created', 'importing',
                       message='Still importing', outcome='timeout'),
        ]
        self.assertEqual([
            'R3: failed (source image s1): No method offered.',
            'R4: failed: Unreachable',
            'R5: timed out (source image s1): Still importing'],
            report.failure_lines(rows))
        self.assertEqual('R3: would fail (source image s1): No method '
                         'offered.', report.failure_lines(rows, True)[0])

    def test_interrupted_lines_name_what_goes_on(self):
        rows = [report.Row('R2', 's1', 'c2', 'created', 'importing',
                           task_id='t2', waiting=True),
                report.Row('R4', 's1', 'c4', 'created', 'active')]
        lines = report.interrupted_lines(rows)
        self.assertIn('go on in Glance', lines[0])
        self.assertEqual(['  R2: image c2, task t2, a copy of s1'],
                         lines[1:2])
        self.assertIn('again with --wait', lines[-1])
        self.assertEqual(3, len(lines))
        self.assertEqual(['Interrupted; no import was still in progress.'],
                         report.interrupted_lines(rows[1:]))
