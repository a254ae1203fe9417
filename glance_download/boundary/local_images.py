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

"""Images of this Glance with the source's content, as the caller sees them.

Everything here runs with the import's own request context, the caller's,
through Glance's layered image repository (the one its API builds for a
request) and its policy enforcer: an image is found only if
``GET /v2/images?os_hash_value=...`` would list it for the caller, and
its data read only if ``GET /v2/images/{id}/file`` would serve it to the
caller. Never an admin context: see doc/source/admin/security.rst.
"""

import functools

from glance.api import policy
from glance.api.v2 import policy as api_policy
from glance.common import exception as glance_exc
import glance.gateway
import glance_store

from glance_download import twin

# What the image repository and the stores raise for an image that is gone,
# hidden, forbidden or unreadable: each means "not this twin".
_UNUSABLE = (glance_exc.GlanceException, glance_store.GlanceStoreException,
             OSError)


@functools.lru_cache(maxsize=1)
def _enforcer():
    """Glance's policy enforcer, made as its API controllers make theirs.

    Not glance.api.policy.get_enforcer(): it parses the global
    configuration again, without glance-api's files.
    """
    return policy.Enforcer(suppress_deprecation_warnings=True)


def _repo(context, db_api=None):
    gateway = glance.gateway.Gateway(db_api=db_api,
                                     policy_enforcer=_enforcer())
    return gateway.get_repo(context)


def _allowed(context, image, rule):
    return api_policy.ImageAPIPolicy(context, image,
                                     _enforcer()).check(rule)


def _candidate(image):
    return twin.Candidate(
        image_id=image.image_id, status=image.status,
        os_hash_algo=image.os_hash_algo, os_hash_value=image.os_hash_value,
        size=image.size, owner=image.owner,
        created_at=image.created_at.isoformat() if image.created_at else '',
        locations=len(image.locations or ()))


def find(context, algorithm, value, limit, db_api=None):
    """twin.Candidate of the images the caller may list with this hash.

    The filters, the member status and the policy checks are those of
    Glance's image list (``get_images``, then ``get_image`` per image),
    narrowed to active images with this ``os_hash_value``; the algorithm
    is compared by twin.choose. Raises twin.Unusable when the caller may
    not list images at all or the list fails.
    """
    try:
        _enforcer().enforce(context, 'get_images',
                            {'project_id': context.project_id})
        images = _repo(context, db_api).list(
            limit=limit, filters={'os_hash_value': value, 'status': 'active',
                                  'deleted': False, 'os_hidden': False},
            member_status='accepted')
    except _UNUSABLE as exc:
        raise twin.Unusable(f'the images of this region could not be '
                            f'listed ({type(exc).__name__})') from None
    return [_candidate(image) for image in images
            if _allowed(context, image, 'get_image')]


def open_data(context, image_id, db_api=None):
    """(record, iterator of the data) of a twin, read as the caller.

    The image is read again, so that one deleted, deactivated or hidden
    since it was found is not used, and ``download_image`` is checked as
    Glance's data API checks it. The data comes from the image's own
    locations through glance_store; any failure while it is read raises
    twin.Unusable.
    """
    try:
        image = _repo(context, db_api).get(image_id)
        if not _allowed(context, image, 'download_image'):
            raise twin.Unusable('the caller may not download it')
        found = _candidate(image)
        # glance_store's chunk_size is how much of the image to read, not
        # the size of the pieces: the whole image, in the store's pieces.
        chunks = image.get_data()
    except _UNUSABLE as exc:
        raise twin.Unusable(f'it could not be read ({_reason(exc)})') from None
    return found, _translated(chunks)


def _reason(exc):
    text = getattr(exc, 'msg', None) or str(exc)
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


def _translated(chunks):
    """The chunks, with the stores' failures raised as twin.Unusable."""
    try:
        for chunk in chunks:
            yield chunk
    except _UNUSABLE as exc:
        raise twin.Unusable(f'reading it failed ({_reason(exc)})') from None
    finally:
        close = getattr(chunks, 'close', None)
        if close is not None:
            close()
