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

"""The target stores: data a stopped store step left without a location.

Glance's store step writes the image's data into the store and records its
location after.  A glance-api killed in between leaves data that no
location names; in a filesystem store it sits at ``<datadir>/<image id>``,
where the store refuses the image's next import as a duplicate.  Only that
store's naming lets the data be found from the image id, so only its data
is removed; the recovery's other steps do not depend on it.
"""

import logging
import os

from glance_download.boundary import config

LOG = logging.getLogger(__name__)


def _group(store):
    """The options of ``store`` (None: the default) if it is a file store."""
    conf = config.CONF
    try:
        if conf.enabled_backends:
            name = store or conf.glance_store.default_backend
            if conf.enabled_backends.get(name) != 'file':
                return None
            return conf[name]
        if conf.glance_store.default_store != 'file':
            return None
        return conf.glance_store
    except (AttributeError, KeyError, LookupError):
        # A configuration without glance_store's options: nothing known.
        return None


def not_file_stores(stores):
    """Those of ``stores`` (None: the default) that are not file stores."""
    return [store or 'default' for store in stores if _group(store) is None]


def _directories(group):
    found = [group.filesystem_store_datadir] if (
        group.filesystem_store_datadir) else []
    for entry in group.filesystem_store_datadirs or ():
        # "<path>:<priority>", the priority optional.
        path, colon, priority = entry.rpartition(':')
        found.append(path if colon and priority.strip().isdigit() else entry)
    return found


def remove_unrecorded(image_id, stores, locations):
    """Remove the image's data no location names; the paths removed.

    ``stores`` are the import's target stores (None for the default),
    ``locations`` the URLs the image records.
    """
    removed = []
    for store in stores:
        group = _group(store)
        for directory in _directories(group) if group else ():
            path = os.path.join(directory, str(image_id))
            if 'file://' + path in locations or not os.path.isfile(path):
                continue
            try:
                os.remove(path)
            except OSError as exc:
                LOG.warning('Could not remove %s, left by the stopped '
                            'import of image %s: %s', path, image_id, exc)
                continue
            removed.append(path)
    return removed
