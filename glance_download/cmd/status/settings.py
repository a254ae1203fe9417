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

"""Settings: our options, and the combinations that would fail every import."""

import os

from keystoneauth1 import loading as ks_loading

from glance_download.cmd.status import regions
from glance_download.cmd.status import result
from glance_download import options
from glance_download import recovery


def _our_opts():
    return (options.transfer_opts + options.tls_opts
            + ks_loading.get_auth_common_conf_options())


def _readable(path):
    return os.path.isfile(path) and os.access(path, os.R_OK)


def _listed(conf):
    """(values, names changed from the defaults, detail lines); no secret."""
    group = conf[options.GROUP]
    values, changed, details = {}, [], []
    for opt in _our_opts():
        value = group[opt.dest]
        values[opt.dest] = None if opt.secret and value else value
        if value != opt.default:
            changed.append(opt.dest)
        shown = '****' if opt.secret and value else result.shown(value)
        details.append(f'[{options.GROUP}] {opt.dest} = {shown}')
    prefixes = conf[options.PROPERTIES_GROUP].extra_properties
    values['extra_properties'] = prefixes
    details.append(f'[{options.PROPERTIES_GROUP}] extra_properties = '
                   f'{result.shown(prefixes)}')
    return values, changed, details


def _problems(group):
    """(problems, fixes) of the settings that would fail every import."""
    problems, fixes = [], []
    if group.send_service_token and not (group.auth_type
                                         or group.auth_section):
        problems.append('send_service_token is on without service '
                        'credentials')
        fixes.append(f'set [{options.GROUP}] auth_section = '
                     f'{regions.AUTHTOKEN_GROUP}.')
    for name in ('cafile', 'certfile', 'keyfile'):
        if group[name] and not _readable(group[name]):
            problems.append(f'{name} {group[name]} is not a readable file')
            fixes.append(f'correct [{options.GROUP}] {name}.')
    return problems, fixes


def check(conf):
    """Our settings, and the combinations that would fail every import."""
    group = conf[options.GROUP]
    values, changed, details = _listed(conf)
    found = result.Result(result.OK, "Changed from the defaults: "
                                     f"{', '.join(changed) or 'none'}.",
                          details=details, data=values)
    problems, fixes = _problems(group)
    problem = recovery.settings_problem(group.heartbeat_interval,
                                        group.stale_after)
    if problems:
        found.status = result.FAIL
        found.summary = '; '.join(problems) + '.'
        found.fix = ' '.join(fix[0].upper() + fix[1:] for fix in fixes)
    elif group.insecure:
        found.status = result.WARN
        found.summary = ('insecure = true: remote Glances\' certificates '
                         'are not verified, tokens can be intercepted.')
        found.fix = f'Set [{options.GROUP}] insecure = false.'
    elif problem:
        found.status = result.WARN
        found.summary = problem + '.'
        found.fix = (f'Set [{options.GROUP}] stale_after to at least '
                     f'{recovery.MIN_HEARTBEATS} times heartbeat_interval.')
    return found
