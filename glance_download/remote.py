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

"""HTTP access to the remote Glance with the caller's token.

The token goes only to the scheme, host and port of the catalog endpoint.
Redirects are followed here, not by the HTTP library, so that a hop to any
other origin is made without credentials or cookies, and every hop passes
the operator's import filtering before a byte is sent.  Both decisions are
made on the URL as requests sends it (glance_download.urls), so no
parser's reading of an odd URL can differ from where the connection goes.
The session is sessions.py's, and the image record is read by record.py.
"""

import logging
import time

from keystoneauth1 import exceptions as ks_exc
import requests
import requests.cookies

from glance_download import errors
from glance_download import options
from glance_download import ranges
from glance_download import record
from glance_download import retry
from glance_download import sessions
from glance_download import urls

LOG = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def status_message(status, image_id, region, what='image'):
    """A user-facing sentence for an HTTP error answer of the remote."""
    if status == 401:
        return (f'The Glance in region {region} did not accept your token '
                '(HTTP 401). Your token may have expired or not be valid '
                'there; get a new token and retry.')
    if status == 403:
        return (f'You are not allowed to read {what} {image_id} in region '
                f'{region} (HTTP 403).')
    if status == 404:
        return (f'Image {image_id} was not found in region {region} (HTTP '
                '404): it does not exist there or your project cannot see it. '
                'Check the image id and the region.')
    return (f'The Glance in region {region} answered HTTP {status} when asked '
            f'for {what} {image_id}.')


class RemoteGlance:
    """The source region's Glance, as seen by one import."""

    def __init__(self, session, endpoint, policy, timeouts, max_redirects,
                 url_allowed, max_record_size=options.DEFAULT_RECORD_SIZE):
        self.session = session
        self.endpoint = endpoint
        self.policy = policy
        self.timeouts = timeouts
        self.max_redirects = max_redirects
        self.url_allowed = url_allowed
        self.max_record_size = max_record_size
        self.latency = None
        """Seconds the first request waited for its answer's head: how
        far the source is, before any data is asked for."""
        # One cookie jar per origin: what one origin set never goes to
        # another, as a shared jar would send it (cookies ignore ports).
        self._jars = {}
        if session.verify is False:
            LOG.warning('The HTTPS certificate of the Glance in region %s '
                        'is not verified ([glance_download] insecure = '
                        'true): the tokens sent to it can be intercepted.',
                        endpoint.region)

    def _catalog_target(self, url):
        try:
            return urls.target(url)
        except urls.UnsafeURL as exc:
            raise errors.EndpointRefused(
                f'The image endpoint of region {self.endpoint.region} in your '
                f'service catalog ({urls.shown(self.endpoint.url)}) is not '
                f'used: {exc}. Nothing was sent to it. Ask your cloud '
                'operator to fix the catalog.') from None

    def _redirect_target(self, current, location):
        try:
            return urls.join(current.url, location)
        except urls.UnsafeURL as exc:
            raise errors.EndpointRefused(
                f'The Glance in region {self.endpoint.region} redirected to a '
                f'location that is not followed: {exc}. Nothing was sent '
                f'there. Ask the operator of region {self.endpoint.region} to '
                'check its redirects.') from None

    def _check_allowed(self, target):
        """Filter ``target``; pin the address the filtering validated.

        ``url_allowed`` answers falsy to refuse, else the address to
        connect to, or True to leave resolving the name to the library.
        """
        address = self.url_allowed(target.filtering_url)
        if address:
            http = self.session.session
            adapter = http.get_adapter(target.url)
            # Through a proxy of the environment, the peer is the proxy.
            if (isinstance(address, str) and not http.trust_env
                    and isinstance(adapter, sessions.PinnedAdapter)):
                adapter.pin(target, address)
            return
        raise errors.EndpointRefused(
            f'The remote address {target.origin_text} is not allowed by this '
            'Glance\'s [import_filtering_opts] (schemes, hosts, ports), or '
            'its host name does not resolve, so nothing was sent to it. Ask '
            'your cloud operator to allow it.')

    def _cookies_for(self, origin):
        jar = self._jars.get(origin)
        if jar is None:
            jar = self._jars[origin] = requests.cookies.RequestsCookieJar()
        self.session.session.cookies = jar

    def send(self, url, headers=None, stream=False):
        """GET url, following redirects; the token only to our origin.

        Every hop is checked as requests will send it: its text, then
        import filtering on the origin urllib3 connects to.
        """
        region = self.endpoint.region
        home = self._catalog_target(self.endpoint.url).origin
        target = self._catalog_target(url)
        for _hop in range(self.max_redirects + 1):
            self._check_allowed(target)
            same_origin = target.origin == home
            self._cookies_for(target.origin)
            asked = time.monotonic()
            try:
                response = self.session.request(
                    target.url, 'GET', headers=dict(headers or {}),
                    authenticated=same_origin, redirect=False,
                    raise_exc=False, stream=stream, timeout=self.timeouts,
                    connect_retries=0, allow_reauth=False, log=False)
            except ks_exc.SSLError:
                raise errors.TransferError(
                    f'The TLS connection to the Glance in region {region} '
                    'failed verification. Ask your cloud operator to check '
                    '[glance_download] cafile, certfile and '
                    'keyfile.') from None
            except (requests.RequestException, ks_exc.ClientException) as exc:
                if retry.is_transient_exception(exc):
                    raise
                raise errors.TransferError(
                    f'The Glance in region {region} could not be reached at '
                    f'{target.origin_text} ({type(exc).__name__}). Ask your '
                    'cloud operator to check its catalog endpoint.'
                ) from None
            if self.latency is None:
                self.latency = time.monotonic() - asked
            # Our own line: keystoneauth's would read a JSON body whole,
            # however large, before we can bound it.
            LOG.debug('GET %s%s: HTTP %s', target.url,
                      '' if same_origin else ' (without credentials)',
                      response.status_code)
            if (response.status_code not in REDIRECT_STATUSES
                    or 'Location' not in response.headers):
                return response
            location = response.headers['Location']
            response.close()
            following = self._redirect_target(target, location)
            if following.origin != home:
                LOG.info('Remote Glance in region %s redirected to %s, '
                         'another origin; following without credentials',
                         region, following.origin_text)
            target = following
        raise errors.TransferError(
            f'The Glance in region {region} redirected more than '
            f'{self.max_redirects} times.')

    def get_image(self, image_id):
        """The source image's JSON, retried on transient failures."""
        url = self.endpoint.image_url(image_id)
        region = self.endpoint.region
        what = f'Reading image {image_id} from region {region} failed'

        def give_up(problem):
            return lambda attempts: errors.TransferError(
                f'Could not read image {image_id} from the Glance in region '
                f'{region} after {attempts} attempts (last: {problem}). Retry '
                'later.')

        def attempt(number):
            retry_after = None
            try:
                response = self.send(url, headers=record.HEADERS,
                                     stream=True)
                with response:
                    status = response.status_code
                    if status == 200:
                        return record.read(response, image_id, region,
                                           self.max_record_size,
                                           self.timeouts[1])
                    if not retry.is_transient_status(status):
                        raise errors.RemoteImageError(
                            status_message(status, image_id, region),
                            status=status)
                    problem = f'HTTP {status}'
                    retry_after = response.headers.get('Retry-After')
            except Exception as exc:
                if not retry.is_transient_exception(exc):
                    raise
                problem = str(exc)
                raise retry.Transient(problem, what, give_up(problem)
                                      ) from exc
            raise retry.Transient(problem, what, give_up(problem),
                                  retry_after)

        return retry.run(self.policy, attempt)

    def open_file(self, image_id, offset=0, end=None):
        """Opener for fetch: the data from ``offset`` (to ``end``), unread."""
        headers = {'Accept': 'application/octet-stream',
                   'Accept-Encoding': 'identity'}
        asked = ranges.request_range(offset, end)
        if asked:
            headers['Range'] = asked
        response = self.send(self.endpoint.file_url(image_id),
                             headers=headers, stream=True)
        status = response.status_code
        if status in (401, 403, 404):
            response.close()
            raise errors.RemoteImageError(
                status_message(status, image_id, self.endpoint.region,
                               what='the data of image'), status=status)
        return response
