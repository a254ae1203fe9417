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

"""Content already in this region: copied here, not sent again.

When this Glance already holds an active image the caller may read whose
``os_hash_algo`` and ``os_hash_value`` are the source's (a "twin"), its
data is copied from this region's stores into staging instead of crossing
the link, and verified against the source's digest as any download is.
Which twin, and whether to look at all, are decided here by pure
functions; boundary.local_images finds and reads the twins as the caller.
A twin that fails in any way is discarded, and the download from the
source region goes ahead as if there had been none.
"""

import dataclasses
import time

from glance_download import partfile
from glance_download import progress
from glance_download import verify

# Twins tried, at most, before the data is downloaded after all: each
# failure costs a read of this region's store, not of the link.
MAX_TRIED = 3
# Images listed, at most, when looking for twins.
LIST_LIMIT = 20


class Unusable(Exception):
    """This twin cannot serve the data; ``str(exc)`` says why, for the log."""


@dataclasses.dataclass(frozen=True)
class Candidate:
    """An image of this region, as the twin decisions read it."""

    image_id: str
    status: str
    os_hash_algo: str | None
    os_hash_value: str | None
    size: int | None
    owner: str | None
    created_at: str
    locations: int


@dataclasses.dataclass(frozen=True)
class CopyResult:
    """What a copy from a twin verified, and what it took."""

    twin_id: str
    bytes: int
    algorithm: str
    seconds: float


def search_key(source_image, digest, enabled, max_size=None):
    """``(algorithm, value)`` a twin must have, or None: do not look.

    Only a source with a multihash that this host verifies the copy
    against: a twin is found by that hash, and the copy is checked with
    it. A source larger than this Glance accepts is left to the download,
    which says so.
    """
    if not enabled or not digest:
        return None
    algorithm = (source_image.get('os_hash_algo') or '').strip().lower()
    value = (source_image.get('os_hash_value') or '').strip().lower()
    if not algorithm or not value or tuple(digest) != (algorithm, value):
        return None
    size = source_image.get('size')
    if not isinstance(size, int) or (max_size is not None and
                                     size > max_size):
        return None
    return algorithm, value


def usable(candidate, key, size, target_id):
    """Whether ``candidate`` may be a twin of a source of ``size`` bytes."""
    algorithm, value = key
    return (candidate.image_id != target_id
            and candidate.status == 'active'
            and (candidate.os_hash_algo or '').lower() == algorithm
            and (candidate.os_hash_value or '').lower() == value
            and candidate.size == size
            and candidate.locations > 0)


def choose(candidates, key, size, target_id, project_id):
    """The twins to try, best first, at most MAX_TRIED.

    The caller's own images first (the caller keeps them; another
    project's may go at any time), then the oldest, then by id so that
    the order is the same on every glance-api.
    """
    found = [c for c in candidates if usable(c, key, size, target_id)]
    found.sort(key=lambda c: (c.owner != project_id, c.created_at,
                              c.image_id))
    return found[:MAX_TRIED]


def describe_copying(twin_id, done, total):
    """The task's message while the data is copied from a twin."""
    percent = 100.0 * done / total if total else 100.0
    return (f'Copying from image {twin_id} in this region: '
            f'{progress.human_size(done)} of {progress.human_size(total)} '
            f'({percent:.0f}%)')


def describe_done(result, region):
    """The closing message: where the data came from, what was verified.

    It starts as every closing message does (progress.DONE_PREFIX), so
    that the openstack commands keep it.
    """
    return (f'{progress.DONE_PREFIX}nothing from region {region}: found in '
            f'this region as image {result.twin_id}, 0 bytes crossed the '
            f'link; {progress.human_size(result.bytes)} copied in '
            f'{result.seconds:.1f} s, {result.algorithm} verified')


def describe_fallback(twin_id, reason, region):
    """The task's message when a twin could not be used."""
    return (f'Image {twin_id} in this region has the same content but '
            f'could not be used ({reason}); downloading from region '
            f'{region} instead')


def copy_to_staging(twin_id, chunks, dest_path, size, digest, report=None,
                    interval=5.0, clock=time.monotonic):
    """Write ``chunks`` to ``dest_path``, verified against ``digest``.

    As a download does: into the part file, renamed to ``dest_path`` only
    once size and digest match the source's; on any failure nothing is
    left at either path. ``report(message)``, at most every ``interval``
    seconds, may raise errors.Aborted to stop the copy.
    """
    part = partfile.PartFile(dest_path)
    started = clock()
    due = started + min(1.0, interval)
    hasher = verify.new_hash(digest[0])
    done = 0
    try:
        part.open()
        part.reserve(size)
        for chunk in chunks:
            if done + len(chunk) > size:
                raise verify.oversize_error(size, done + len(chunk))
            part.write(chunk, done)
            hasher.update(chunk)
            done += len(chunk)
            now = clock()
            if report is not None and now >= due:
                due = now + interval
                report(describe_copying(twin_id, done, size))
        verify.check(size, digest, done, hasher.hexdigest())
        part.commit()
    except BaseException:
        part.discard()
        raise
    return CopyResult(twin_id=twin_id, bytes=done, algorithm=digest[0],
                      seconds=clock() - started)
