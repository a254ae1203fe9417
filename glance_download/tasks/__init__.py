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

"""The taskflow tasks of one glance-download import, one module a step.

Glance runs them inside its own import flow, after taking the image lock
and before its own steps that move the staged data into the stores:

1. ``read_source``: ReadSourceImage finds the remote Glance and reads the
   source image record.
2. ``copy_metadata``: CopyMetadata puts formats, prefixed properties and
   provenance onto the target image.
3. ``copy_from_twin``: CopyFromTwin stages the data from an image of this
   region with the same content, verified, when the caller may read one
   (twin.py).
4. ``download_to_staging``: DownloadToStaging streams, verifies and stages
   the data, unless CopyFromTwin did.

``base`` holds what they share: the step's naming, the per-flow
Connection, the user-facing errors and the source's last check.

The tasks hand each other plain data as taskflow results: the first
provides the source image's id, record, resolved region and expected
digest, which the others require.  Only the HTTP client, which taskflow
cannot store, is shared through a small per-flow Connection.

Any failure makes Glance revert the whole flow: each task undoes exactly
what it did, so the image is ``queued`` again and a retry works.

This file re-exports nothing: callers import the step's module.
"""
