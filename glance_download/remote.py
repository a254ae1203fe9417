"""HTTP access to the remote Glance with the caller's token.

The token goes only to the scheme, host and port of the catalog endpoint.
Redirects are followed here, not by the HTTP library, so that a hop to any
other origin is made without credentials, and every hop passes the
operator's import filtering before a byte is sent.
"""

import logging
import urllib.parse

import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import service_token
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from glance_download import endpoint as endpoint_mod
from glance_download import errors
from glance_download import options
from glance_download import retry

LOG = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def _service_auth(conf):
    group = conf[options.GROUP]
    ks_loading.register_auth_conf_options(conf, options.GROUP)
    auth = None
    if group.auth_type or group.auth_section:
        auth = ks_loading.load_auth_from_conf_options(conf, options.GROUP)
    if auth is None:
        raise errors.InvalidRequest(
            'This Glance is configured to send a service token '
            '([glance_download] send_service_token) but has no service '
            'credentials: set auth_section (for example to '
            'keystone_authtoken) or auth_type and its options in '
            '[glance_download]. Ask your cloud operator.')
    return auth


def make_session(conf, user_token):
    """A keystoneauth1 session carrying the user's (and service's) token."""
    if not user_token:
        raise errors.InvalidRequest(
            'The import request carries no user token to authenticate to '
            'the remote Glance with.')
    group = conf[options.GROUP]
    auth = token_endpoint.Token(None, user_token)
    if group.send_service_token:
        auth = service_token.ServiceTokenAuthWrapper(
            user_auth=auth, service_auth=_service_auth(conf))
    verify = False if group.insecure else (group.cafile or True)
    cert = None
    if group.certfile:
        cert = ((group.certfile, group.keyfile) if group.keyfile
                else group.certfile)
    return ks_session.Session(auth=auth, verify=verify, cert=cert)


def status_message(status, image_id, region, what='image'):
    """A user-facing sentence for an HTTP error answer of the remote."""
    if status == 401:
        return ('The Glance in region %s did not accept your token (HTTP '
                '401). Your token may have expired or not be valid there; '
                'get a new token and retry.' % region)
    if status == 403:
        return ('You are not allowed to read %s %s in region %s (HTTP 403).'
                % (what, image_id, region))
    if status == 404:
        return ('Image %s was not found in region %s (HTTP 404): it does not '
                'exist there or your project cannot see it. Check the image '
                'id and the region.' % (image_id, region))
    return ('The Glance in region %s answered HTTP %s when asked for %s %s.'
            % (region, status, what, image_id))


class RemoteGlance(object):
    """The source region's Glance, as seen by one import."""

    def __init__(self, session, endpoint, policy, timeouts, max_redirects,
                 url_allowed):
        self.session = session
        self.endpoint = endpoint
        self.policy = policy
        self.timeouts = timeouts
        self.max_redirects = max_redirects
        self.url_allowed = url_allowed

    def _check_allowed(self, url):
        if not self.url_allowed(url):
            parts = urllib.parse.urlsplit(url)
            raise errors.EndpointRefused(
                'The remote address %s://%s is not allowed by this Glance\'s '
                '[import_filtering_opts] (schemes, hosts, ports), or its host '
                'name does not resolve, so nothing was sent to it. Ask your '
                'cloud operator to allow it.' % (parts.scheme, parts.netloc))

    def send(self, url, headers=None, stream=False):
        """GET url, following redirects; the token only to our origin."""
        region = self.endpoint.region
        for _hop in range(self.max_redirects + 1):
            self._check_allowed(url)
            same_origin = endpoint_mod.origin_of(url) == self.endpoint.origin
            try:
                response = self.session.request(
                    url, 'GET', headers=dict(headers or {}),
                    authenticated=same_origin, redirect=False,
                    raise_exc=False, stream=stream, timeout=self.timeouts,
                    connect_retries=0, allow_reauth=False)
            except ks_exc.SSLError:
                raise errors.TransferError(
                    'The TLS connection to the Glance in region %s failed '
                    'verification. Ask your cloud operator to check '
                    '[glance_download] cafile, certfile and keyfile.'
                    % region) from None
            except (requests.RequestException, ks_exc.ClientException) as exc:
                if retry.is_transient_exception(exc):
                    raise
                raise errors.TransferError(
                    'The Glance in region %s could not be reached at %s (%s). '
                    'Ask your cloud operator to check its catalog endpoint.'
                    % (region, url, type(exc).__name__)) from None
            if (response.status_code not in REDIRECT_STATUSES
                    or 'Location' not in response.headers):
                return response
            target = urllib.parse.urljoin(url, response.headers['Location'])
            response.close()
            if not same_origin or endpoint_mod.origin_of(
                    target) != self.endpoint.origin:
                LOG.info('Remote Glance in region %s redirected to another '
                         'origin; following without credentials', region)
            url = target
        raise errors.TransferError(
            'The Glance in region %s redirected more than %d times.'
            % (region, self.max_redirects))

    def get_image(self, image_id):
        """The source image's JSON, retried on transient failures."""
        url = self.endpoint.image_url(image_id)
        region = self.endpoint.region
        attempt = 0
        while True:
            attempt += 1
            retry_after = None
            try:
                response = self.send(url,
                                     headers={'Accept': 'application/json'})
            except Exception as exc:
                if not retry.is_transient_exception(exc):
                    raise
                problem = str(exc)
            else:
                with response:
                    status = response.status_code
                    if status == 200:
                        return self._json(response, image_id)
                    if not retry.is_transient_status(status):
                        raise errors.RemoteImageError(
                            status_message(status, image_id, region))
                    problem = 'HTTP %s' % status
                    retry_after = response.headers.get('Retry-After')
            if not self.policy.allows_another(attempt):
                raise errors.TransferError(
                    'Could not read image %s from the Glance in region %s '
                    'after %d attempts (last: %s). Retry later.'
                    % (image_id, region, attempt, problem))
            self.policy.wait(attempt, retry_after)

    def _json(self, response, image_id):
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise errors.RemoteImageError(
                'The Glance in region %s did not answer with an image '
                'record for %s. Check that the catalog endpoint is a Glance.'
                % (self.endpoint.region, image_id))
        return body

    def open_file(self, image_id, offset=0, end=None):
        """Opener for fetch: the data from ``offset`` (to ``end``), unread."""
        headers = {'Accept': 'application/octet-stream',
                   'Accept-Encoding': 'identity'}
        if end is not None:
            headers['Range'] = 'bytes=%d-%d' % (offset, end - 1)
        elif offset:
            headers['Range'] = 'bytes=%d-' % offset
        response = self.send(self.endpoint.file_url(image_id),
                             headers=headers, stream=True)
        status = response.status_code
        if status in (401, 403, 404):
            response.close()
            raise errors.RemoteImageError(
                status_message(status, image_id, self.endpoint.region,
                               what='the data of image'))
        return response
