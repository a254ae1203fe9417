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

"""The session one import reaches the remote Glance through.

It carries the user's token (and the service's, when configured), the
TLS settings of ``[glance_download]``, nothing from the environment unless
``trust_env`` says so, and connects to the address import filtering
validated rather than to a second resolution of the name.  Where the
token may go and which hops are followed is remote.py's to decide.
"""

from keystoneauth1 import service_token
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import requests
import urllib3.util

from glance_download import credentials
from glance_download import errors
from glance_download import options
from glance_download import urls


def _service_auth(conf):
    auth = credentials.service_auth(conf, options.GROUP)
    if auth is None:
        raise errors.InvalidRequest(
            'This Glance is configured to send a service token '
            '([glance_download] send_service_token) but has no service '
            'credentials: set auth_section (for example to '
            'keystone_authtoken) or auth_type and its options in '
            '[glance_download]. Ask your cloud operator.')
    return auth


class PinnedAdapter(ks_session.TCPKeepAliveAdapter):
    """Connects to the address import filtering validated for an origin.

    Glance's filtering resolves a host name to check the addresses it
    leads to; resolving it again to connect could give another one (DNS
    rebinding).  For an origin pinned here, the connection goes to the
    validated address, while the Host header, TLS server name and
    certificate check keep the name.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pins = {}

    def pin(self, target, address):
        """Connect to ``address`` for ``target``'s origin from now on."""
        if address.strip('[]') != target.host.strip('[]'):
            self.pins[target.origin] = address

    def _pinned(self, request):
        try:
            target = urls.target(request.url)
        except urls.UnsafeURL:
            return None, None
        return target, self.pins.get(target.origin)

    def build_connection_pool_key_attributes(self, request, verify,
                                             cert=None):
        host_params, pool_kwargs = super(
            PinnedAdapter, self).build_connection_pool_key_attributes(
                request, verify, cert)
        target, address = self._pinned(request)
        if address is not None:
            host_params['host'] = address
            host_params['port'] = target.port
            if target.scheme == 'https':
                pool_kwargs['server_hostname'] = target.host
                if verify is not False:
                    pool_kwargs['assert_hostname'] = target.host
        return host_params, pool_kwargs

    def send(self, request, *args, **kwargs):
        target, address = self._pinned(request)
        if address is not None:
            request.headers['Host'] = urllib3.util.parse_url(
                target.url).netloc
        return super().send(request, *args, **kwargs)


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
    http = requests.Session()
    # Without trust_env, neither proxies from the environment nor .netrc
    # credentials apply to the remote Glance or any origin it redirects to.
    http.trust_env = group.trust_env
    adapter = PinnedAdapter()
    http.mount('https://', adapter)
    http.mount('http://', adapter)
    return ks_session.Session(auth=auth, session=http,
                              **credentials.tls(group))
