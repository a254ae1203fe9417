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

"""Import filtering: whether the plugin may reach each image endpoint.

Each endpoint of the service catalog (read once for this check and the
Regions one) is decided as the plugin decides before it sends anything.
"""

from glance_download.boundary import filtering
from glance_download.cmd.status import result
from glance_download import endpoint
from glance_download import urls

GROUP = 'import_filtering_opts'
OPTS = ('allowed_schemes', 'disallowed_schemes', 'allowed_hosts',
        'disallowed_hosts', 'allowed_ports', 'disallowed_ports')


def _target(url):
    try:
        return urls.target(endpoint.strip_version(url))
    except urls.UnsafeURL:
        return None


def _endpoint_allowed(url):
    """Whether the plugin would send to ``url``, decided as it decides."""
    target = _target(url)
    return target is not None and filtering.url_allowed(target.filtering_url)


def _refusal_hint(values, refused):
    targets = [_target(url) for _r, _i, url in refused]
    ports = sorted({target.port for target in targets if target}
                   - set(values['allowed_ports'] or []))
    hint = ('Allow the remote Glances in [import_filtering_opts]: their '
            'scheme in allowed_schemes, their host in allowed_hosts (when it '
            'is set; loopback and link-local addresses only then) and not '
            'in disallowed_hosts, their port in allowed_ports. Host names '
            'must resolve from this host.')
    if ports and values['allowed_ports']:
        hint += (" For example allowed_ports = "
                 f"{result.shown(list(values['allowed_ports']) + ports)}.")
    return hint


def check(conf, catalog):
    """Whether import filtering lets the plugin reach each image endpoint.

    ``catalog`` is the service catalog the Regions check reports on, or
    the Result saying why it was not read.
    """
    endpoints = (None if isinstance(catalog, result.Result)
                 else catalog.endpoints)
    group = conf[GROUP]
    values = {name: group[name] for name in OPTS}
    found = result.Result(
        result.OK, '',
        details=[f'[{GROUP}] {name} = {result.shown(value)}'
                 for name, value in values.items()],
        data={'options': values, 'endpoints': []})
    if not endpoints:
        found.status = result.UNKNOWN
        found.summary = (
            "No image endpoint to check; see Regions. Allowed schemes "
            f"{result.shown(values['allowed_schemes'])}, ports "
            f"{result.shown(values['allowed_ports'])}.")
        return found
    refused = []
    for region, interfaces in sorted(endpoints.items()):
        for interface, url in sorted(interfaces.items()):
            allowed = _endpoint_allowed(url)
            found.data['endpoints'].append(
                {'region': region, 'interface': interface, 'url': url,
                 'allowed': allowed})
            found.details.append(f"{region} {interface} {url}: "
                                 f"{'allowed' if allowed else 'refused'}")
            if not allowed:
                refused.append((region, interface, url))
    total = len(found.data['endpoints'])
    if not refused:
        found.summary = f'All {total} image endpoints are allowed.'
        return found
    found.status = result.FAIL if len(refused) == total else result.WARN
    how_many = (f'All {total}' if len(refused) == total
                else f'{len(refused)} of {total}')
    which = ', '.join(f'{region} {interface}'
                      for region, interface, _u in refused)
    found.summary = f'{how_many} image endpoints are refused: {which}.'
    found.fix = _refusal_hint(values, refused)
    return found
