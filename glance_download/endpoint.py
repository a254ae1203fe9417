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

"""Where the remote Glance is: the caller's service catalog, region, interface.

The catalog is the one keystonemiddleware handed to Glance with the caller's
token (v2 shape: ``publicURL`` ...; a v3 shape is accepted too), so the user
can only reach an image service their own token lists.
"""

import dataclasses
import re
import urllib.parse

from keystoneauth1.access import service_catalog

from glance_download import errors

INTERFACES = ('public', 'internal', 'admin')

# A trailing API version in a catalog URL: /v2, /v2.0, /v2.16, /v1 ...
_VERSION_SUFFIX = re.compile(r'/v\d+(\.\d+)?/*$')


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """An image service endpoint chosen for one import."""

    region: str
    interface: str
    url: str  # without version suffix and trailing slash

    def image_url(self, image_id):
        return f"{self.url}/v2/images/{urllib.parse.quote(image_id, safe='')}"

    def file_url(self, image_id):
        return self.image_url(image_id) + '/file'


def strip_version(url):
    """Catalog URL without a trailing version segment or slash."""
    return _VERSION_SUFFIX.sub('', url.rstrip('/')).rstrip('/')


def normalize_interface(interface):
    """Accept ``public``, ``publicURL`` ... (None means public)."""
    if interface is None or interface == '':
        return 'public'
    if not isinstance(interface, str):
        raise errors.InvalidRequest(
            "glance_service_interface must be one of "
            f"{', '.join(INTERFACES)}.")
    name = interface.strip()
    if name.endswith('URL'):
        name = name[:-3]
    name = name.lower()
    if name not in INTERFACES:
        raise errors.InvalidRequest(
            f"glance_service_interface '{interface}' is not valid: use one of "
            f"{', '.join(INTERFACES)}.")
    return name


def _catalog(raw):
    is_v3 = any('interface' in endpoint
                for service in raw
                for endpoint in service.get('endpoints', []))
    cls = (service_catalog.ServiceCatalogV3 if is_v3
           else service_catalog.ServiceCatalogV2)
    return cls(raw)


def image_endpoints(raw_catalog):
    """Every image endpoint in the catalog: {region: {interface: url}}."""
    found = {}
    if not raw_catalog:
        return found
    data = _catalog(raw_catalog).get_endpoints_data(service_type='image')
    for item in data.get('image', []):
        interface = item.interface[:-3] if item.interface.endswith(
            'URL') else item.interface
        found.setdefault(item.region_name or '', {})[interface] = \
            item.catalog_url
    return found


def _match_region(region, regions):
    if region in regions:
        return region
    folded = [name for name in regions if name.lower() == region.lower()]
    return folded[0] if len(folded) == 1 else None


def resolve(raw_catalog, region, interface):
    """The endpoint to pull from, or InvalidRequest saying what to use."""
    interface = normalize_interface(interface)
    if not isinstance(region, str) or not region.strip():
        raise errors.InvalidRequest(
            'glance_region must name the region the source image is in.')
    endpoints = image_endpoints(raw_catalog)
    if not endpoints:
        raise errors.InvalidRequest(
            'The service catalog of your token lists no image service, so '
            'no remote Glance can be reached. Ask your cloud operator to '
            'check the Keystone catalog and that keystonemiddleware passes '
            'the catalog to Glance.')
    named = sorted(name for name in endpoints if name)
    match = _match_region(region, endpoints)
    if match is None:
        raise errors.InvalidRequest(
            f"Region '{region}' has no image service endpoint in your service "
            "catalog. Regions with an image endpoint: "
            f"{', '.join(named) or '(none with a region name)'}.")
    by_interface = endpoints[match]
    if interface not in by_interface:
        raise errors.InvalidRequest(
            f"Region '{match}' has no {interface} image endpoint; it has: "
            f"{', '.join(sorted(by_interface))}. Set glance_service_interface "
            "to one of those.")
    return Endpoint(region=match, interface=interface,
                    url=strip_version(by_interface[interface]))
