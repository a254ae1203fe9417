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

"""Whether Glance's store step may follow the download, and the download
it follows.

By default the download step returns as soon as the transfer runs, and
Glance's store step reads the data as it arrives (following.py).  That
holds only while nothing between the two steps reads the staged file;
otherwise the store step waits for the last byte, as it always did.  See
doc/source/admin/overlapped-store.rst.
"""

import threading

from glance_download import errors

# Glance's import plugins that read and rewrite the staged file between the
# download and the store step.
STAGED_FILE_READERS = ('image_conversion', 'image_decompression')
# The largest segment of a download the store step follows.
FOLLOWED_SEGMENT_SIZE = 16 * 1024 * 1024
# The stored bytes of a followed download are dropped from staging in
# blocks of this many bytes (see releases).
RELEASE_BLOCK = 16 * 1024 * 1024
# Thread name, so that tests can see none is left behind.
DOWNLOAD_THREAD = 'glance-download-transfer'


def fallback_reason(enabled, import_plugins, hook, other_stores=()):
    """Why the store step must wait for the download; None if it need not.

    ``enabled`` is the operator's switch, ``import_plugins`` Glance's
    ``image_import_plugins``, ``hook`` whether this Glance's store step can
    be fed (boundary.store_feed), ``other_stores`` the target stores that
    are not filesystem stores: the recovery could not find what a killed
    store step left in them, and that step lasts as long as the download.
    """
    if not enabled:
        return 'overlap_store_writes is off'
    readers = [name for name in import_plugins
               if name in STAGED_FILE_READERS]
    if readers:
        verb = 'reads' if len(readers) == 1 else 'read'
        return f"{' and '.join(readers)} {verb} the staged file"
    if not hook:
        return "this Glance's store step cannot read data still arriving"
    if other_stores:
        return (f"store {', '.join(other_stores)} is not a filesystem "
                'store')
    return None


def releases(target_stores):
    """Whether the bytes the store step read may leave the staged file.

    With one target store, the store step that follows the download is
    the only reader of the staged data, which Glance deletes once it is
    stored: dropping each block once stored (and hashed) keeps staging
    from holding the whole image in page cache and writing it to disk
    for nothing.  A second store reads the staged file again after the
    first, so then every byte stays.
    """
    return len(target_stores) == 1


def segment_size(configured, followed, far):
    """The segments of a download; smaller when the store step follows it.

    The store step reads the data in order, so it can read only the
    contiguous written prefix: with a few large segments fetched side by
    side from a ``far`` source, the prefix jumps once per round of
    segments and the store waits, then has most of the image to write
    after the last byte.  Smaller segments, claimed in order, keep the
    prefix close behind the streams; each costs a request, which
    FOLLOWED_SEGMENT_SIZE keeps to one per couple of seconds of one
    stream over a long round trip.  A near source starts with one stream,
    which writes in order anyway, and keeps ``configured``.
    """
    if followed and far:
        return min(configured, FOLLOWED_SEGMENT_SIZE)
    return configured


class BackgroundDownload:
    """A StagedDownload run in a thread of its own, for the store to follow.

    ``run()`` downloads, verifies and finishes (the caller's closure
    around ``download.run``); its result or error is the verdict.
    """

    def __init__(self, download, run):
        self._download = download
        self._run = run
        self._result = None
        self._error = None
        self._cancelled = threading.Event()
        inner = download.progress

        def progress(*args):
            if self._cancelled.is_set():
                raise errors.Aborted('The import was stopped while its data '
                                     'was arriving. ' + errors.afterword())
            if inner:
                inner(*args)
        download.progress = progress
        self._thread = threading.Thread(target=self._main,
                                        name=DOWNLOAD_THREAD, daemon=True)

    def start(self):
        """Start the download; once its part file is there, or it failed."""
        self._thread.start()
        self._download.await_started()
        return self

    def _main(self):
        try:
            self._result = self._run()
        except BaseException as exc:  # handed over to the verdict
            self._error = exc

    def await_prefix(self, read, generation):
        return self._download.await_written(read, generation)

    def release(self, read):
        return self._download.release(read)

    def verdict(self):
        """The download's result once it ended; its error, raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self):
        """Stop the download, as a revert does, and wait for it to end."""
        self._cancelled.set()
        self._thread.join()
