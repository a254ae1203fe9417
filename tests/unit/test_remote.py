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

"""The HTTP client of the remote Glance, against a real local HTTP server."""

import io
import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest
from unittest import mock


from glance_download.boundary import filtering
from glance_download import endpoint
from glance_download import errors
from glance_download import options
from glance_download import remote
from glance_download import retry
from glance_download import sessions
from tests import fake_glance
from tests.unit import boundary_fakes
from tests.unit import helpers

TOKEN = boundary_fakes.TOKEN


class RemoteTestBase(unittest.TestCase):

    def setUp(self):
        self.glance = fake_glance.FakeGlance(tokens=[TOKEN]).start()
        self.addCleanup(self.glance.stop)
        self.sleeps = []
        self.refused = set()

    def client(self, url=None, token=TOKEN, conf=None, max_attempts=3,
               max_redirects=3):
        found = endpoint.Endpoint('REGION1', 'public', url or self.glance.url)
        return remote.RemoteGlance(
            session=sessions.make_session(conf or helpers.make_conf(), token),
            endpoint=found,
            policy=retry.RetryPolicy(max_attempts, 0.5, 2.0,
                                     sleep=self.sleeps.append),
            timeouts=(2.0, 2.0), max_redirects=max_redirects,
            url_allowed=lambda url: not any(h in url for h in self.refused))


class GetImageTest(RemoteTestBase):

    def test_reads_the_record_with_the_token(self):
        image = self.glance.add_image(b'abc', hw_disk_bus='virtio')
        record = self.client().get_image(image['id'])
        self.assertEqual('virtio', record['hw_disk_bus'])
        seen = self.glance.requests_to(image['id'])
        self.assertEqual(TOKEN, seen[0].headers['X-Auth-Token'])

    def test_endpoint_with_path_prefix(self):
        with fake_glance.FakeGlance(tokens=[TOKEN], prefix='/image') as other:
            image = other.add_image(b'abc')
            found = self.client(other.url).get_image(image['id'])
            self.assertEqual(image['id'], found['id'])

    def assert_fails(self, image_id, text, exc_type=errors.RemoteImageError,
                     **kwargs):
        with self.assertRaises(exc_type) as ctx:
            self.client(**kwargs).get_image(image_id)
        self.assertIn(text, str(ctx.exception))
        self.assertNotIn(TOKEN, str(ctx.exception))
        return ctx.exception

    def test_unknown_or_invisible_image_is_404(self):
        image = self.glance.add_image(b'abc', visible_to={'someone-else'})
        self.assert_fails(image['id'], 'was not found in region REGION1')
        self.assert_fails('3f7cd9a2-2a1b-4f43-9d7e-0d2c4b6a1e11',
                          'Check the image id and the region')
        self.assertEqual([], self.sleeps)

    def test_forbidden_image(self):
        image = self.glance.add_image(b'abc', forbidden_to={TOKEN})
        self.assert_fails(image['id'], 'not allowed to read image')

    def test_rejected_token(self):
        image = self.glance.add_image(b'abc')
        self.assert_fails(image['id'], 'did not accept your token',
                          token='expired')

    def test_transient_answers_are_retried(self):
        image = self.glance.add_image(b'abc')
        self.glance.faults += [fake_glance.Status(503, on='metadata'),
                               fake_glance.Status(429, on='metadata',
                                                  retry_after='1')]
        with self.assertLogs('glance_download.retry', 'WARNING') as logs:
            found = self.client().get_image(image['id'])
        self.assertEqual(image['id'], found['id'])
        self.assertEqual([0.5, 1.0], self.sleeps)
        # Each retry of the record is logged, as the data's are.
        self.assertEqual(2, len(logs.records))
        self.assertIn(f"Reading image {image['id']} from region REGION1 "
                      "failed (attempt 1 of 3: HTTP 503)", logs.output[0])

    def test_record_cut_short_is_retried(self):
        image = self.glance.add_image(b'abc')
        self.glance.faults.append(fake_glance.Cut(after=20, on='metadata'))
        self.assertEqual(image['id'],
                         self.client().get_image(image['id'])['id'])
        self.assertEqual(2, len(self.glance.requests_to(image['id'])))
        self.assertEqual([0.5], self.sleeps)

    def test_persistent_5xx_gives_up_after_the_attempts(self):
        image = self.glance.add_image(b'abc')
        self.glance.faults.append(
            fake_glance.Status(500, on='metadata', times=10))
        self.assert_fails(image['id'], 'after 3 attempts (last: HTTP 500)',
                          errors.TransferError)
        self.assertEqual(3, len(self.glance.requests_to(image['id'])))

    def test_nobody_listening_is_retried_then_reported(self):
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        sock.close()
        exc = self.assert_fails('3f7cd9a2-2a1b-4f43-9d7e-0d2c4b6a1e11',
                                'after 3 attempts', errors.TransferError,
                                url=f'http://127.0.0.1:{port}')
        self.assertEqual(2, len(self.sleeps), exc)

    def test_malformed_catalog_url(self):
        exc = self.assert_fails('3f7cd9a2-2a1b-4f43-9d7e-0d2c4b6a1e11',
                                'image endpoint of region REGION1 in your '
                                'service catalog (http//no-scheme) is not '
                                'used: it is not a valid URL',
                                errors.EndpointRefused, url='http//no-scheme')
        self.assertIn('fix the catalog', str(exc))
        self.assertEqual([], self.sleeps)

    def test_not_a_glance(self):
        image = self.glance.add_image(b'abc')
        with fake_glance.FakeGlance(tokens=None) as other:
            self.glance.faults.append(fake_glance.Redirect(
                other.url + f"/v2/images/{image['id']}/file",
                on='metadata'))
            other.add_image(b'abc', id=image['id'])
            self.assert_fails(image['id'], 'did not answer with an image')


class RedirectTest(RemoteTestBase):

    def setUp(self):
        super().setUp()
        self.other = fake_glance.FakeGlance(host='127.0.0.2', tokens=None)
        self.other.start()
        self.addCleanup(self.other.stop)
        self.image = self.glance.add_image(b'x' * 1000)
        self.other.add_image(b'x' * 1000, id=self.image['id'])

    def test_token_never_goes_to_another_host(self):
        self.glance.faults.append(fake_glance.Redirect(
            self.other.image_url(self.image['id']), on='metadata'))
        record = self.client().get_image(self.image['id'])
        self.assertEqual(self.image['id'], record['id'])
        seen = self.other.requests_to(self.image['id'])
        self.assertEqual(1, len(seen))
        self.assertNotIn('X-Auth-Token', seen[0].headers)
        self.assertNotIn('X-Service-Token', seen[0].headers)

    def test_data_redirect_to_another_port_is_without_token(self):
        with fake_glance.FakeGlance(tokens=None) as same_host:
            same_host.add_image(b'x' * 1000, id=self.image['id'])
            self.glance.faults.append(fake_glance.Redirect(
                same_host.file_url(self.image['id'])))
            response = self.client().open_file(self.image['id'], 10)
            with response:
                self.assertEqual(206, response.status_code)
            seen = same_host.requests_to('/file')[0]
            self.assertNotIn('X-Auth-Token', seen.headers)
            self.assertEqual('bytes=10-', seen.headers['Range'])

    def test_same_origin_redirect_keeps_the_token(self):
        moved = self.glance.add_image(b'y' * 10)
        self.glance.faults.append(fake_glance.Redirect(
            f"/v2/images/{moved['id']}", on='metadata'))
        record = self.client().get_image(self.image['id'])
        self.assertEqual(moved['id'], record['id'])
        seen = self.glance.requests_to(moved['id'])[0]
        self.assertEqual(TOKEN, seen.headers['X-Auth-Token'])

    def test_refused_redirect_target_gets_nothing(self):
        self.refused.add('127.0.0.2')
        self.glance.faults.append(fake_glance.Redirect(
            self.other.image_url(self.image['id']), on='metadata'))
        with self.assertRaises(errors.EndpointRefused) as ctx:
            self.client().get_image(self.image['id'])
        self.assertIn('127.0.0.2', str(ctx.exception))
        self.assertIn('[import_filtering_opts]', str(ctx.exception))
        self.assertEqual([], self.other.requests)

    def test_redirect_loop_ends(self):
        self.glance.faults.append(fake_glance.Redirect(
            f"/v2/images/{self.image['id']}", on='metadata', times=10))
        with self.assertRaises(errors.TransferError) as ctx:
            self.client(max_redirects=2).get_image(self.image['id'])
        self.assertIn('redirected more than 2 times', str(ctx.exception))
        self.assertEqual(3, len(self.glance.requests_to(self.image['id'])))


class FilteringTest(RemoteTestBase):

    def test_refused_endpoint_is_sent_nothing(self):
        image = self.glance.add_image(b'abc')
        self.refused.add('127.0.0.1')
        with self.assertRaises(errors.EndpointRefused):
            self.client().get_image(image['id'])
        with self.assertRaises(errors.EndpointRefused):
            self.client().open_file(image['id'])
        self.assertEqual([], self.glance.requests)


class OpenFileTest(RemoteTestBase):

    def test_range_asked_from_offset(self):
        image = self.glance.add_image(b'0123456789')
        with self.client().open_file(image['id'], 4) as response:
            self.assertEqual(206, response.status_code)
            self.assertEqual(b'456789', response.raw.read())
        with self.client().open_file(image['id']) as response:
            self.assertEqual(200, response.status_code)
            self.assertNotIn('Range', self.glance.requests_to('/file')[-1]
                             .headers)

    def test_permanent_answers_raise(self):
        image = self.glance.add_image(b'abc', forbidden_to={TOKEN})
        with self.assertRaises(errors.RemoteImageError) as ctx:
            self.client().open_file(image['id'])
        self.assertIn('not allowed to read the data of image',
                      str(ctx.exception))

    def test_transient_answers_are_left_to_the_caller(self):
        image = self.glance.add_image(b'abc')
        self.glance.faults.append(fake_glance.Status(503))
        with self.client().open_file(image['id']) as response:
            self.assertEqual(503, response.status_code)


class SessionTest(RemoteTestBase):

    def test_tls_settings(self):
        session = sessions.make_session(helpers.make_conf(), TOKEN)
        self.assertIs(True, session.verify)
        self.assertIsNone(session.cert)
        session = sessions.make_session(helpers.make_conf(
            cafile='/etc/ca.pem', certfile='/etc/c.pem', keyfile='/etc/k.pem'),
            TOKEN)
        self.assertEqual('/etc/ca.pem', session.verify)
        self.assertEqual(('/etc/c.pem', '/etc/k.pem'), session.cert)
        session = sessions.make_session(
            helpers.make_conf(insecure=True, cafile='/etc/ca.pem'), TOKEN)
        self.assertIs(False, session.verify)

    def test_no_user_token(self):
        self.assertRaises(errors.InvalidRequest, sessions.make_session,
                          helpers.make_conf(), None)

    def test_service_token_is_sent_along(self):
        conf = helpers.make_conf(send_service_token=True)
        conf.set_override('auth_type', 'admin_token', group=options.GROUP)
        sessions.make_session(conf, TOKEN)  # registers the plugin's options
        conf.set_override('token', 'service-token', group=options.GROUP)
        image = self.glance.add_image(b'abc')
        self.client(conf=conf).get_image(image['id'])
        seen = self.glance.requests_to(image['id'])[0]
        self.assertEqual(TOKEN, seen.headers['X-Auth-Token'])
        self.assertEqual('service-token', seen.headers['X-Service-Token'])

    def test_service_token_needs_credentials(self):
        with self.assertRaises(errors.InvalidRequest) as ctx:
            sessions.make_session(
                helpers.make_conf(send_service_token=True), TOKEN)
        self.assertIn('auth_section', str(ctx.exception))


class NoTokenInLogsTest(RemoteTestBase):

    def test_debug_logs_never_hold_the_token(self):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setLevel(logging.DEBUG)
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        self.addCleanup(root.removeHandler, handler)
        self.addCleanup(root.setLevel, old_level)
        image = self.glance.add_image(b'abc')
        hidden = self.glance.add_image(b'abc', visible_to={'x'})
        with fake_glance.FakeGlance(host='127.0.0.2', tokens=None) as other:
            other.add_image(b'abc', id=image['id'])
            self.glance.faults += [
                fake_glance.Status(503, on='metadata'),
                fake_glance.Redirect(other.image_url(image['id']),
                                     on='metadata')]
            self.client().get_image(image['id'])
        self.assertRaises(errors.RemoteImageError,
                          self.client().get_image, hidden['id'])
        with self.client().open_file(image['id'], 1) as response:
            response.raw.read()
        logged = stream.getvalue()
        self.assertIn(image['id'], logged)  # the logs did capture requests
        self.assertNotIn(TOKEN, logged)


class HostileRedirectTest(RemoteTestBase):
    """Glance's own import filtering against hostile redirects.

    The filtering allows 127.0.0.1 only, and a server on 127.0.0.2 is
    what each Location below would reach if it were read as the HTTP
    library reads it.
    """

    def setUp(self):
        super().setUp()
        self.elsewhere = fake_glance.FakeGlance(host='127.0.0.2',
                                                tokens=None).start()
        self.addCleanup(self.elsewhere.stop)
        self.image = self.glance.add_image(b'x' * 1000)
        self.elsewhere.add_image(b'x' * 1000, id=self.image['id'])
        here = int(self.glance.url.rsplit(':', 1)[1])
        there = int(self.elsewhere.url.rsplit(':', 1)[1])
        helpers.override(self, 'allowed_hosts', ['127.0.0.1'],
                         group='import_filtering_opts')
        helpers.override(self, 'allowed_ports', [here, there],
                         group='import_filtering_opts')
        self.here, self.there = here, there

    def glance_client(self, **kwargs):
        client = self.client(**kwargs)
        client.url_allowed = filtering.validated_address
        return client

    def hostile_locations(self):
        image_id = self.image['id']
        here, there = self.here, self.there
        path = f'/v2/images/{image_id}'
        return [
            (f'http://127.0.0.2:{there}\\@127.0.0.1:{here}{path}',
             'it contains a backslash'),
            (f'http://127.0.0.2:{there}\\\\@127.0.0.1:{here}{path}',
             'it contains a backslash'),
            (f'/\\127.0.0.2:{there}{path}', 'it contains a backslash'),
            (f'http://127.0.0.1:{here}@127.0.0.2:{there}{path}',
             'user name or password'),
            (f'http://u:secret@127.0.0.2:{there}{path}',
             'user name or password'),
            (f'http://%31%32%37.0.0.2:{there}{path}',
             'percent-encoded'),
            (f'http://127.0.0.2:{there}{path} x',
             'whitespace or control'),
            (f'http://127.0.0.2:{there}{path}\x01',
             'whitespace or control'),
            (f'http://127.0.0.1:99999{path}',
             'its port is not a number from 1 to 65535'),
            (f'http://127.0.0.1:{here}a{path}',
             'its port is not a number from 1 to 65535'),
            (f'http://[::ffff:127.0.0.2]:{there}{path}',
             'not allowed by this Glance\'s [import_filtering_opts]'),
            (f'HTTP://127.0.0.2:{there}{path}',
             'not allowed by this Glance\'s [import_filtering_opts]'),
        ]

    def test_hostile_locations_reach_nothing(self):
        for location, reason in self.hostile_locations():
            for on in ('metadata', 'file'):
                with self.subTest(location=location, on=on):
                    self.glance.faults.append(
                        fake_glance.Redirect(location, on=on))
                    client = self.glance_client()
                    with self.assertRaises(errors.EndpointRefused) as ctx:
                        if on == 'metadata':
                            client.get_image(self.image['id'])
                        else:
                            client.open_file(self.image['id']).close()
                    message = str(ctx.exception)
                    self.assertIn(reason, message)
                    self.assertIn('othing was sent', message)
                    self.assertNotIn('secret', message)
                    self.assertNotIn(TOKEN, message)
                    self.assertEqual([], self.glance.faults)
        self.assertEqual([], self.elsewhere.requests)

    def test_allowed_redirect_still_followed_under_glance_filtering(self):
        with fake_glance.FakeGlance(tokens=None) as other:
            other.add_image(b'x' * 1000, id=self.image['id'])
            port = int(other.url.rsplit(':', 1)[1])
            helpers.override(self, 'allowed_ports', [self.here, port],
                             group='import_filtering_opts')
            self.glance.faults.append(fake_glance.Redirect(
                f"HTTP://127.0.0.1:{port}/v2/images/{self.image['id']}",
                on='metadata'))
            record = self.glance_client().get_image(self.image['id'])
            self.assertEqual(self.image['id'], record['id'])
            (seen,) = other.requests
            self.assertNotIn('X-Auth-Token', seen.headers)

    def test_same_origin_spelled_otherwise_keeps_the_token(self):
        moved = self.glance.add_image(b'y' * 10)
        self.glance.faults.append(fake_glance.Redirect(
            f"HTTP://127.0.0.1:{self.here}/v2/images/{moved['id']}",
            on='metadata'))
        self.glance_client().get_image(self.image['id'])
        seen = self.glance.requests_to(moved['id'])[0]
        self.assertEqual(TOKEN, seen.headers['X-Auth-Token'])

    def test_default_port_is_filtered_as_the_port_connected_to(self):
        """http://127.0.0.1/ connects to port 80: allowed_ports decides."""
        self.glance.faults.append(fake_glance.Redirect(
            f"http://127.0.0.1/v2/images/{self.image['id']}",
            on='metadata'))
        with self.assertRaises(errors.EndpointRefused) as ctx:
            self.glance_client().get_image(self.image['id'])
        self.assertIn('http://127.0.0.1:80 is not allowed', str(ctx.exception))


class CatalogURLTest(RemoteTestBase):

    def test_userinfo_in_the_catalog_is_refused_and_never_shown(self):
        url = self.glance.url.replace('//', '//admin:secret@')
        image = self.glance.add_image(b'abc')
        with self.assertLogs('glance_download', 'DEBUG') as logs:
            logging.getLogger('glance_download').debug('start')
            with self.assertRaises(errors.EndpointRefused) as ctx:
                self.client(url=url).get_image(image['id'])
        message = str(ctx.exception)
        self.assertIn('user name or password', message)
        self.assertIn('http://***@127.0.0.1', message)
        self.assertNotIn('secret', message)
        self.assertNotIn('secret', '\n'.join(logs.output))
        self.assertEqual([], self.glance.requests)

    def test_backslash_in_the_catalog_is_refused(self):
        url = 'http://127.0.0.2:1\\@' + self.glance.url.split('//')[1]
        with self.assertRaises(errors.EndpointRefused) as ctx:
            self.client(url=url).get_image('x')
        self.assertIn('in your service catalog', str(ctx.exception))
        self.assertIn('backslash', str(ctx.exception))
        self.assertEqual([], self.glance.requests)


class CookieTest(RemoteTestBase):

    def test_cookies_stay_with_the_origin_that_set_them(self):
        image = self.glance.add_image(b'x' * 100)
        with fake_glance.FakeGlance(tokens=None) as other:
            other.add_image(b'x' * 100, id=image['id'])
            # Same host, another port: a shared jar would send it there.
            self.glance.faults += [
                fake_glance.Redirect(f"/v2/images/{image['id']}",
                                     on='metadata', cookie='lb=sticky-1'),
                fake_glance.Redirect(other.image_url(image['id']),
                                     on='metadata'),
            ]
            self.client().get_image(image['id'])
            (seen,) = other.requests
            self.assertNotIn('Cookie', seen.headers)
        # The origin that set it gets it back.
        second = self.glance.requests_to(image['id'])[1]
        self.assertEqual('lb=sticky-1', second.headers.get('Cookie'))


class EnvironmentTest(RemoteTestBase):

    def setUp(self):
        super().setUp()
        self.image = self.glance.add_image(b'abc')
        netrc = os.path.join(self.useTempDir(), 'netrc')
        with open(netrc, 'w') as f:
            f.write('machine 127.0.0.1 login someone password netrc-secret\n')
        os.chmod(netrc, 0o600)
        patcher = mock.patch.dict(os.environ, {
            'NETRC': netrc, 'HTTP_PROXY': 'http://127.0.0.1:1',
            'http_proxy': 'http://127.0.0.1:1', 'NO_PROXY': '',
            'no_proxy': ''})
        patcher.start()
        self.addCleanup(patcher.stop)

    def useTempDir(self):
        path = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, path, ignore_errors=True)
        return path

    def test_proxies_and_netrc_do_not_apply_by_default(self):
        record = self.client().get_image(self.image['id'])
        self.assertEqual(self.image['id'], record['id'])
        (seen,) = self.glance.requests_to(self.image['id'])
        self.assertNotIn('Authorization', seen.headers)

    def test_trust_env_lets_them_apply(self):
        # The proxy of the environment, where nothing listens, is used.
        with self.assertRaises(errors.TransferError):
            self.client(conf=helpers.make_conf(trust_env=True),
                        max_attempts=1).get_image(self.image['id'])
        self.assertEqual([], self.glance.requests)


class InsecureWarningTest(RemoteTestBase):

    def test_one_warning_per_import_naming_the_region(self):
        with self.assertLogs('glance_download.remote', 'WARNING') as logs:
            client = self.client(conf=helpers.make_conf(insecure=True))
            image = self.glance.add_image(b'abc')
            client.get_image(image['id'])
            client.open_file(image['id']).close()
        self.assertEqual(1, len(logs.records), logs.output)
        self.assertIn('region REGION1', logs.output[0])
        self.assertIn('insecure = true', logs.output[0])

    def test_no_warning_when_verified(self):
        with self.assertNoLogs('glance_download.remote', 'WARNING'):
            self.client().get_image(self.glance.add_image(b'abc')['id'])


class RebindingBase(RemoteTestBase):
    """A host name that resolves to another address once checked.

    It resolves to an allowed address while Glance checks it, then to
    another one, where another server listens.
    """

    NAME = 'glance.rebind.test'

    def setUp(self):
        super().setUp()
        self.port = int(self.glance.url.rsplit(':', 1)[1])
        self.elsewhere = fake_glance.FakeGlance(
            host='127.0.0.2', port=self.port, tokens=None).start()
        self.addCleanup(self.elsewhere.stop)
        helpers.override(self, 'allowed_hosts', [self.NAME],
                         group='import_filtering_opts')
        helpers.override(self, 'allowed_ports', [self.port],
                         group='import_filtering_opts')
        self.checking = False
        self.later_lookups = 0
        real = socket.getaddrinfo

        def getaddrinfo(name, port, *args, **kwargs):
            if str(name).rstrip('.') != self.NAME:
                return real(name, port, *args, **kwargs)
            if not self.checking:
                self.later_lookups += 1
            address = '127.0.0.1' if self.checking else '127.0.0.2'
            return real(address, port, *args, **kwargs)
        for module in boundary_fakes.resolver_modules():
            patcher = mock.patch.object(module, 'getaddrinfo', getaddrinfo)
            patcher.start()
            self.addCleanup(patcher.stop)

    def validated_address(self, url):
        self.checking = True
        try:
            return filtering.validated_address(url)
        finally:
            self.checking = False


class RebindingTest(RebindingBase):
    """The connection goes to the address checked."""

    def test_connection_goes_to_the_address_glance_validated(self):
        image = self.glance.add_image(b'abc')
        self.elsewhere.add_image(b'abc', id=image['id'])
        client = self.client(url=f'http://{self.NAME}:{self.port}')
        client.url_allowed = self.validated_address
        record = client.get_image(image['id'])
        self.assertEqual(image['id'], record['id'])
        self.assertEqual([], self.elsewhere.requests)
        (seen,) = self.glance.requests_to(image['id'])
        self.assertEqual(f'{self.NAME}:{self.port}',
                         seen.headers['Host'])
        self.assertEqual(TOKEN, seen.headers['X-Auth-Token'])
        self.assertEqual(0, self.later_lookups)

    def test_trust_env_resolves_the_name_again(self):
        """The documented limit of the environment's settings.

        Through them, the name is resolved to connect, and may lead
        elsewhere.
        """
        image = self.glance.add_image(b'abc')
        self.elsewhere.add_image(b'abc', id=image['id'])
        client = self.client(url=f'http://{self.NAME}:{self.port}',
                             conf=helpers.make_conf(trust_env=True))
        client.url_allowed = self.validated_address
        no_proxies = {name: '' for name in (
            'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy',
            'ALL_PROXY', 'all_proxy')}
        with mock.patch.dict(os.environ, no_proxies):
            client.get_image(image['id'])
        self.assertEqual(1, len(self.elsewhere.requests))


class TLSFakeGlance(fake_glance.FakeGlance):
    """A FakeGlance over TLS, with a certificate for ``name`` only."""

    def __init__(self, certfile, keyfile, **kwargs):
        super().__init__(**kwargs)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile, keyfile)
        self.server_names = []
        self.context.sni_callback = (
            lambda sock, name, context: self.server_names.append(name))

    def start(self):
        super().start()
        self._server.socket = self.context.wrap_socket(
            self._server.socket, server_side=True)
        return self


def self_signed(directory, name):
    """(certificate, key) files of a self-signed certificate for name."""
    cert = os.path.join(directory, 'cert.pem')
    key = os.path.join(directory, 'key.pem')
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
         '-days', '2', '-subj', f'/CN={name}',
         '-addext', f'subjectAltName=DNS:{name}',
         '-keyout', key, '-out', cert],
        check=True, capture_output=True, timeout=60)
    return cert, key


class PinnedTLSTest(RebindingBase):
    """Pinned over TLS.

    The name is still the server name and what the certificate is
    checked against.
    """

    def setUp(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        self.cert, key = self_signed(directory, self.NAME)
        self.tls = TLSFakeGlance(self.cert, key, tokens=[TOKEN]).start()
        self.addCleanup(self.tls.stop)
        super().setUp()

    def tls_client(self, **settings):
        port = int(self.tls.url.rsplit(':', 1)[1])
        helpers.override(self, 'allowed_ports', [port],
                         group='import_filtering_opts')
        client = self.client(url=f'https://{self.NAME}:{port}',
                             conf=helpers.make_conf(**settings))
        client.url_allowed = self.validated_address
        return client

    def test_verified_tls_to_the_validated_address(self):
        image = self.tls.add_image(b'abc')
        record = self.tls_client(cafile=self.cert).get_image(image['id'])
        self.assertEqual(image['id'], record['id'])
        self.assertEqual([self.NAME], self.tls.server_names[:1])
        self.assertEqual(0, self.later_lookups)

    def test_certificate_still_checked_against_the_name(self):
        image = self.tls.add_image(b'abc')
        with self.assertRaises(errors.TransferError) as ctx:
            self.tls_client().get_image(image['id'])
        self.assertIn('failed verification', str(ctx.exception))
