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

"""Enabled: Glance refuses the method's requests unless it is enabled."""

from glance_download.cmd.status import result
from glance_download import protocol

METHOD = protocol.METHOD


def check(conf):
    """Whether glance-download is in [DEFAULT] enabled_import_methods."""
    methods = list(conf.enabled_import_methods or [])
    shown = result.shown(methods)
    if METHOD not in methods:
        return result.Result(
            result.FAIL,
            f'{METHOD} is not in [DEFAULT] enabled_import_methods {shown}.',
            fix='Set [DEFAULT] enabled_import_methods = '
                f'{result.shown(methods + [METHOD])} and restart glance-api.',
            data={'enabled_import_methods': methods})
    return result.Result(
        result.OK, f'{METHOD} is in [DEFAULT] enabled_import_methods {shown}.',
        data={'enabled_import_methods': methods})
