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

"""The metadata of a copy: what it is created with, and what drifted.

A new copy gets its source's name, formats, min_disk, min_ram, tags and
the properties under the --property-prefix values, and the provenance
that the next run finds it by (target_fields); image sync brings the
managed part back when it drifted (managed_changes).
"""

from glance_download import metadata

# The region a copy's data was pulled from: the source region, or a region
# that relayed it (glance_download.client.relay). The provenance proper,
# glance_download_source_*, names the original in either case.
PULLED_FROM_PROPERTY = 'glance_download_pulled_from'


def target_fields(source, source_region, name=None, visibility='private',
                  same_id=False, properties=None):
    """The body of ``POST /v2/images`` for a copy of source.

    The provenance properties are set at creation, so that a placeholder
    left by a failed import is found by the next run.
    """
    fields = {
        'name': name if name is not None else source.get('name'),
        'disk_format': source['disk_format'],
        'container_format': source['container_format'],
        'min_disk': source.get('min_disk') or 0,
        'min_ram': source.get('min_ram') or 0,
        'tags': list(source.get('tags') or []),
        'visibility': visibility,
    }
    if fields['name'] is None:
        del fields['name']
    fields.update(properties or {})
    fields.update(metadata.provenance(source_region, source['id'],
                                      source.get('owner')))
    if same_id:
        fields['id'] = source['id']
    return fields


def managed_changes(source, copy, prefixes):
    """JSON-patch operations that bring the copy's managed metadata back.

    Managed: name, tags, min_disk, min_ram and the properties whose name
    starts with one of prefixes (never a reserved attribute).
    """
    ops = []
    for field in ('name', 'min_disk', 'min_ram'):
        wanted = source.get(field)
        if field != 'name':
            wanted = wanted or 0
        if copy.get(field) != wanted:
            ops.append({'op': 'replace', 'path': '/' + field,
                        'value': wanted})
    if sorted(copy.get('tags') or []) != sorted(source.get('tags') or []):
        ops.append({'op': 'replace', 'path': '/tags',
                    'value': sorted(source.get('tags') or [])})
    wanted = _managed_properties(source, prefixes)
    present = _managed_properties(copy, prefixes)
    for key in sorted(wanted):
        if key not in present:
            ops.append({'op': 'add', 'path': '/' + key,
                        'value': wanted[key]})
        elif present[key] != wanted[key]:
            ops.append({'op': 'replace', 'path': '/' + key,
                        'value': wanted[key]})
    for key in sorted(set(present) - set(wanted)):
        ops.append({'op': 'remove', 'path': '/' + key})
    return tuple(ops)


def _managed_properties(image, prefixes):
    """Properties kept the same, never the provenance of a copy."""
    found = metadata.properties_to_copy(image, prefixes)
    for name in metadata.PROVENANCE_PROPERTIES + (PULLED_FROM_PROPERTY,):
        found.pop(name, None)
    return found
