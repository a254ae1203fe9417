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

"""Plain HTTP to the Glance v2 API of one region, and test images."""

import os
import uuid

import requests

MIB = 1024 * 1024


class GlanceError(AssertionError):
    """A Glance answer other than the one expected."""


def newest_task(tasks):
    """The task created last of an image's tasks; None without any."""
    return max(tasks, key=lambda t: t['created_at']) if tasks else None


def write_random_file(path, size):
    """A file of size random bytes, written 16 MiB at a time."""
    with open(path, 'wb') as f:
        left = size
        while left:
            piece = os.urandom(min(left, 16 * MIB))
            f.write(piece)
            left -= len(piece)


class Glance:
    """One region's Glance as one user (anything with a ``token``)."""

    def __init__(self, url, identity, region=None):
        self.url = url
        self.identity = identity
        self.region = region

    def call(self, method, path, expect=None, **kwargs):
        """The response; GlanceError if its status is not in ``expect``."""
        headers = kwargs.pop('headers', {})
        headers['X-Auth-Token'] = self.identity.token
        kwargs.setdefault('timeout', 60)
        response = requests.request(method, self.url + path,
                                    headers=headers, **kwargs)
        if expect is not None and response.status_code not in expect:
            raise GlanceError(
                f'{self.region} {method} {path}: HTTP '
                f'{response.status_code} {response.text[:500]}')
        return response

    def create(self, **fields):
        fields.setdefault('name', 'gd-test-' + uuid.uuid4().hex[:8])
        fields.setdefault('disk_format', 'raw')
        fields.setdefault('container_format', 'bare')
        return self.call('POST', '/v2/images', (201,), json=fields).json()

    def upload(self, image_id, data, timeout=60):
        self.call('PUT', f'/v2/images/{image_id}/file', (204,), data=data,
                  headers={'Content-Type': 'application/octet-stream'},
                  timeout=timeout)

    def get(self, image_id):
        return self.call('GET', f'/v2/images/{image_id}', (200,)).json()

    def tasks(self, image_id):
        return self.call('GET', f'/v2/images/{image_id}/tasks',
                         (200,)).json()['tasks']

    def newest_task(self, image_id):
        return newest_task(self.tasks(image_id))

    def import_image(self, image_id, method=None, **body):
        body['method'] = method
        return self.call('POST', f'/v2/images/{image_id}/import', json=body)

    def delete(self, image_id, expect=None):
        self.call('DELETE', f'/v2/images/{image_id}', expect)
