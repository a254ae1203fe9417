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

"""Regions: the image endpoints of the service catalog.

The catalog is read once, with the service credentials the plugin uses
for the service token, and handed to this check and to Import filtering.
"""

import dataclasses

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from glance_download.cmd.status import result
from glance_download import credentials
from glance_download import endpoint
from glance_download import options
from glance_download import urls

AUTHTOKEN_GROUP = 'keystone_authtoken'
KEYSTONE_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Catalog:
    """The image endpoints of the catalog the service's credentials get."""

    endpoints: dict
    section: str
    auth_url: str


def _credentials_group(conf):
    """Where the service credentials are: ours when set, else Glance's."""
    ours = conf[options.GROUP]
    return options.GROUP if (ours.auth_type or ours.auth_section) \
        else AUTHTOKEN_GROUP


def keystone_session(conf):
    """The Keystone session and credentials section of the service token.

    Returns (session to Keystone, section of its credentials), as the
    plugin builds them for the service token when the credentials are
    ours.
    """
    group = _credentials_group(conf)
    section = credentials.auth_section(conf, group)
    fix = ('Set auth_type = password, auth_url, username, password, '
           'project_name, user_domain_name and project_domain_name in '
           f'[{AUTHTOKEN_GROUP}], as keystonemiddleware uses them, or point '
           f'[{options.GROUP}] auth_section at a section that has them.')
    try:
        auth = credentials.service_auth(conf, group)
    except ks_exc.ClientException as exc:
        raise result.Unknown(f'The service credentials in [{section}] cannot '
                             f'be used: {exc}', fix) from None
    if auth is None:
        raise result.Unknown(f'No service credentials: [{section}] auth_type '
                             'is not set.', fix)
    return ks_session.Session(auth=auth, timeout=KEYSTONE_TIMEOUT,
                              **credentials.tls(conf[group])), section


def read_catalog(conf):
    """The image endpoints Keystone lists for the service credentials."""
    session, section = keystone_session(conf)
    auth_url = urls.mask_userinfo(getattr(session.auth, 'auth_url', None)
                                  or '')
    fix = (f'Check auth_url and the credentials in [{section}], and that '
           'Keystone answers from this host.')
    try:
        access = session.auth.get_access(session)
    except ks_exc.ConnectionError as exc:
        raise result.Unknown(f'Keystone at {auth_url} could not be reached '
                             f'({type(exc).__name__}).', fix,
                             details=[str(exc)]) from None
    except ks_exc.ClientException as exc:
        raise result.Unknown(f'Keystone at {auth_url} gave no token for the '
                             f'credentials of [{section}]: {exc}',
                             fix) from None
    endpoints = {region: {interface: urls.mask_userinfo(url)
                          for interface, url in interfaces.items()}
                 for region, interfaces in endpoint.image_endpoints(
                     access.service_catalog.catalog).items()}
    return Catalog(endpoints, section, auth_url)


def _catalog_passed_on(conf):
    """Whether keystonemiddleware hands users' catalogs to Glance."""
    group = conf[AUTHTOKEN_GROUP]
    return ('include_service_catalog' not in group
            or group.include_service_catalog)


def check(conf, catalog):
    """The regions users can import from, as the service's catalog lists.

    ``catalog`` is read_catalog's, or the Result saying why it was not read.
    """
    if isinstance(catalog, result.Result):
        return dataclasses.replace(catalog, data={'regions': None})
    endpoints, auth_url = catalog.endpoints, catalog.auth_url
    found = result.Result(result.OK, '',
                          data={'regions': endpoints,
                                'credentials': catalog.section,
                                'auth_url': auth_url})
    for region, interfaces in sorted(endpoints.items()):
        for interface, url in sorted(interfaces.items()):
            found.details.append(
                f"{region or '(no region)'} {interface} {url}")
    names = sorted(region or '(no region)' for region in endpoints)
    if not endpoints:
        found.status = result.FAIL
        found.summary = (f'The service catalog from Keystone at {auth_url} '
                         'lists no image endpoint.')
        found.fix = ('Register the image service endpoints of every region '
                     'in Keystone.')
    elif not _catalog_passed_on(conf):
        found.status = result.FAIL
        found.summary = (f"Image endpoints in {', '.join(names)}, but "
                         "keystonemiddleware does not pass users' catalogs to "
                         "Glance.")
        found.fix = f'Set [{AUTHTOKEN_GROUP}] include_service_catalog = true.'
    else:
        found.summary = f"Image endpoints in {', '.join(names)}."
        if len(endpoints) < 2:
            found.status = result.WARN
            found.summary += ' There is no other region to import from.'
    return found
