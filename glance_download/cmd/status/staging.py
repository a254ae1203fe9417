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

"""Staging: the directory our download writes and Glance next reads."""

import os
import pwd
import shutil

from glance_download.boundary import config_files
from glance_download.boundary import staging
from glance_download.cmd.status import result
from glance_download import errors
from glance_download import progress


def _staging_option(conf):
    """(option that sets the staging area, its value), as Glance picks it."""
    if conf.enabled_backends:
        config_files.register_staging_store_opts()
        return ('[os_glance_staging_store] filesystem_store_datadir',
                conf.os_glance_staging_store.filesystem_store_datadir)
    return '[DEFAULT] node_staging_uri', conf.node_staging_uri


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _example_staging(option):
    if option.startswith('[DEFAULT]'):
        return 'file:///var/lib/glance/staging'
    return '/var/lib/glance/staging'


def check(conf):
    """Whether the staging directory exists and is writable, its free space."""
    option, value = _staging_option(conf)
    user = _user(os.geteuid())
    data = {'option': option, 'value': value, 'user': user}
    try:
        path = staging.staging_directory()
    except errors.InvalidRequest:
        return result.Result(
            result.FAIL, f'{option} = {value} is not a local directory.',
            fix=f'Set {option} to a local or shared directory, for '
                f'example {_example_staging(option)}.',
            data=data)
    data.update(path=path, exists=os.path.isdir(path))
    if not data['exists']:
        return result.Result(
            result.FAIL, f'{path} ({option}) does not exist.',
            fix='Create it, writable by the user glance-api runs as, or set '
                f'{option}.', data=data)
    stat = os.stat(path)
    data.update(writable=os.access(path, os.W_OK | os.X_OK),
                free_bytes=shutil.disk_usage(path).free)
    details = [f'owner {_user(stat.st_uid)}, mode {stat.st_mode & 0o7777:04o}']
    if os.geteuid() == 0:
        details.append('Checked as root, who can write anywhere: run this '
                       'command as the user glance-api runs as.')
    if not data['writable']:
        return result.Result(
            result.FAIL, f'{path} ({option}) is not writable by {user}.',
            fix='Make it writable by the user glance-api runs as, and run '
                'this command as that user.',
            details=details, data=data)
    return result.Result(
        result.OK, f"{path} ({option}): writable by {user}, "
                   f"{progress.human_size(data['free_bytes'])} free.",
        details=details, data=data)
