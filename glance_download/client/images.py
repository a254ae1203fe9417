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

"""The Images API v2 of one region, through the CLI's keystoneauth session.

Plain requests rather than openstacksdk's image proxy: the import call must
carry all three remote parameters, and every answer's request id is shown
to the user.

Every request has a connect and a read timeout, and none outlives the
command's deadline (timing): python-openstackclient sets no HTTP timeout
at all (osc-lib drops clouds.yaml's api_timeout), and a region whose
endpoint accepts connections but never answers would otherwise hang the
command. A refused request says Glance's own words (error_bodies).
"""

import uuid

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exceptions
import requests

from glance_download.client import error_bodies
from glance_download.client import timing
from glance_download import endpoint
from glance_download import metadata
from glance_download import protocol

PAGE = 200
# Bound of one listing: PAGE * _MAX_PAGES images.
_MAX_PAGES = 500
_PATCH = 'application/openstack-images-v2.1-json-patch'


class GlanceError(Exception):
    """A request Glance refused or that did not reach it."""

    def __init__(self, message, status=None, request_id=None):
        super().__init__(message)
        self.status = status
        self.request_id = request_id


class RegionImages:
    """One region's image service, as the CLI's user."""

    def __init__(self, session, region, interface='public', timeouts=None):
        self.region = region
        self.timeouts = timeouts or timing.Timeouts()
        self.adapter = adapter.Adapter(
            session, service_type='image', region_name=region,
            interface=interface, raise_exc=False)
        self._url = None

    def url(self):
        """The region's image endpoint, without a version suffix.

        Catalogs list Glance with or without a trailing /v2; the calls
        here name the version themselves, as glanceclient and openstacksdk
        do after stripping it.
        """
        if self._url is None:
            try:
                found = self.adapter.get_endpoint()
            except ks_exceptions.ClientException as e:
                raise GlanceError(
                    f'No image endpoint for region {self.region}: {e}')
            if not found:
                raise GlanceError(
                    f'No image endpoint for region {self.region} in your '
                    'catalog.')
            self._url = endpoint.strip_version(found)
        return self._url

    def call(self, method, path, expect=(200,), what=None, **kwargs):
        """Send one request; (response, request id).

        GlanceError unless the answer's status is in expect; also when
        Glance did not answer in time, or the command's time is over.
        """
        kwargs.setdefault('headers', {}).setdefault(
            'Accept', 'application/json')
        what = what or f"{method} {path.split('?')[0]}"
        url = self.url() + path
        timeout = self.timeouts.for_request()
        if timeout is None:
            raise GlanceError(
                f'{what} in region {self.region}: not sent, the '
                f'{timing.seconds(self.timeouts.timeout)} s of --timeout '
                'are over.')
        try:
            response = self.adapter.request(url, method, timeout=timeout,
                                            **kwargs)
        except ks_exceptions.ConnectTimeout as e:
            raise GlanceError(self._timed_out(what, timeout, e))
        except ks_exceptions.ClientException as e:
            raise GlanceError(
                f'Glance in region {self.region} could not be reached: {e}')
        request_id = response.headers.get('x-openstack-request-id')
        if response.status_code not in expect:
            text = error_bodies.error_text(response.text)
            raise GlanceError(
                f'{what} in region {self.region}: HTTP '
                f'{response.status_code}: {text}',
                response.status_code, request_id)
        return response, request_id

    def _timed_out(self, what, timeout, error):
        """The message of a request that got no answer in time."""
        connect, read = timeout
        if isinstance(error.__context__, requests.exceptions.ConnectTimeout):
            waited = ('accepted no connection within '
                      f'{timing.seconds(connect)} s (--connect-timeout)')
        elif read < self.timeouts.read:
            waited = ('did not answer before the end of the '
                      f'{timing.seconds(self.timeouts.timeout)} s of '
                      '--timeout')
        else:
            waited = (f'did not answer within {timing.seconds(read)} s '
                      '(--read-timeout)')
        return (f'{what}: Glance in region {self.region} ({self.url()}) '
                f'{waited}.')

    def import_methods(self):
        response, _ = self.call('GET', '/v2/info/import',
                                what='Reading the import methods')
        return response.json().get('import-methods', {}).get('value', [])

    def get(self, image_id):
        """The image record, or None when this user cannot see it."""
        response, _ = self.call('GET', f'/v2/images/{image_id}',
                                expect=(200, 404),
                                what=f'Reading image {image_id}')
        return response.json() if response.status_code == 200 else None

    def find(self, ref):
        """The image named by id or by name, as this user sees it."""
        if _is_uuid(ref):
            image = self.get(ref)
            if image is not None:
                return image
        found = self.list([('name', ref)])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ', '.join(i['id'] for i in found)
            raise GlanceError(
                f'Several images are named {ref} in region {self.region} '
                f'({ids}): give an id.')
        raise GlanceError(
            f'No image {ref} in region {self.region} that you can see. Check '
            'the name or id and --from-region.')

    def list(self, filters):
        """Every image matching filters (a list of pairs), hidden ones too.

        Glance lists an image whose os_hidden is true only when asked for
        os_hidden=true, and then lists only those, for an admin too: unless
        filters name os_hidden, both listings are made.
        """
        if any(key == 'os_hidden' for key, _ in filters):
            return self._list(filters)
        found = {}
        for hidden in ([], [('os_hidden', 'true')]):
            for image in self._list(list(filters) + hidden):
                found.setdefault(image['id'], image)
        return list(found.values())

    def _list(self, filters):
        """Every image of one listing, page by page."""
        images = []
        params = list(filters) + [('limit', PAGE)]
        marker = None
        for _ in range(_MAX_PAGES):
            page = params + ([('marker', marker)] if marker else [])
            response, _ = self.call('GET', '/v2/images', params=page,
                                    what='Listing images')
            found = response.json().get('images', [])
            images.extend(found)
            if not found or 'next' not in response.json():
                return images
            marker = found[-1]['id']
        raise GlanceError(
            f'More than {PAGE * _MAX_PAGES} images in region {self.region} '
            'match: narrow the selection.')

    def copies(self, owner, source_region, source_id=None):
        """Images of owner whose provenance names the source.

        Server-side property filters: nothing else is listed.
        """
        filters = [(metadata.SOURCE_REGION_PROPERTY, source_region),
                   ('owner', owner), ('visibility', 'all')]
        if source_id:
            filters.append((metadata.SOURCE_IMAGE_PROPERTY, source_id))
        return self.list(filters)

    def create(self, fields):
        response, request_id = self.call(
            'POST', '/v2/images', expect=(201,), json=fields,
            what='Creating the copy')
        return response.json(), request_id

    def delete(self, image_id):
        """Delete image_id, or find it gone; the request id.

        Two runs may delete the same copy at once: Glance then refuses the
        second delete while the first one is under way ("transition from
        deleted to deleted"), and the image is gone all the same.
        """
        try:
            _, request_id = self.call('DELETE', f'/v2/images/{image_id}',
                                      expect=(204, 404),
                                      what=f'Deleting image {image_id}')
        except GlanceError as e:
            if e.status not in (400, 409):
                raise
            seen = self.get(image_id)
            if seen is not None and seen.get('status') not in (
                    'deleted', 'pending_delete'):
                raise
            return e.request_id
        return request_id

    def start_import(self, image_id, source_id, source_region, interface):
        """POST .../import with all three remote parameters; request id."""
        body = {'method': {
            'name': protocol.METHOD,
            'glance_image_id': source_id,
            'glance_region': source_region,
            'glance_service_interface': interface,
        }}
        _, request_id = self.call(
            'POST', f'/v2/images/{image_id}/import', expect=(202,),
            json=body, what=f'Starting the import into {image_id}')
        return request_id

    def newest_task(self, image_id):
        response, _ = self.call('GET', f'/v2/images/{image_id}/tasks',
                                expect=(200, 404),
                                what='Reading the import tasks')
        if response.status_code == 404:
            return None
        tasks = response.json().get('tasks', [])
        return max(tasks, key=lambda t: t.get('created_at') or '',
                   default=None)

    def update(self, image_id, operations):
        _, request_id = self.call(
            'PATCH', f'/v2/images/{image_id}', json=list(operations),
            headers={'Content-Type': _PATCH},
            what=f'Updating image {image_id}')
        return request_id

    def deactivate(self, image_id):
        _, request_id = self.call(
            'POST', f'/v2/images/{image_id}/actions/deactivate',
            expect=(204,), what=f'Deactivating image {image_id}')
        return request_id


def _is_uuid(text):
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def catalog_regions(session, interface='public'):
    """Regions that have an image endpoint of interface in the catalog."""
    access = session.auth.get_access(session)
    found = access.service_catalog.get_endpoints(
        service_type='image', interface=interface)
    return sorted({e.get('region_id') or e.get('region')
                   for e in found.get('image', [])} - {None})
