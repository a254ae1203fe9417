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

"""Implementation: the get_flow Glance loads for glance-download.

Glance 25 and later ship an in-tree glance_download plugin under the same
entry point name as ours; which one Glance ends up with is found by
loading the entry points as Glance does (stevedore keeps the last one
found), with our claim taken into account but never applied: a status
command leaves Glance's modules as it found them.
"""

import importlib.metadata
import sys

from stevedore import named

from glance_download.boundary import takeover
from glance_download.cmd.status import result
from glance_download import options
from glance_download import plugin

# What this check needs of Glance, all through the boundary.
NAMESPACE = takeover.PLUGIN_NAMESPACE
NAME = takeover.PLUGIN_NAME
IN_TREE_MODULE = takeover.IN_TREE_MODULE

OURS = f'{plugin.get_flow.__module__}:{plugin.get_flow.__name__}'


def _entry_points():
    return [ep for ep in importlib.metadata.entry_points(group=NAMESPACE)
            if ep.name == NAME]


def _describe_entry_point(ep):
    dist = getattr(ep, 'dist', None)
    origin = f' ({dist.name} {dist.version})' if dist else ''
    return f'{ep.name} = {ep.value}{origin}'


def _claimed(entry_point):
    """Whether loading ``entry_point`` gives our get_flow once we claim.

    takeover.claim_method replaces get_flow in Glance's in-tree module, and
    loading an entry point reads the attribute it names then: the one that
    names that attribute gives ours. Worked out here, not done, so that the
    check leaves Glance as it found it.
    """
    return (entry_point.module, entry_point.attr) == (IN_TREE_MODULE,
                                                      'get_flow')


def _loaded_function(claimed):
    """The get_flow Glance obtains for glance_download, loaded as it does.

    ``claimed``: whether our get_flow, when Glance first calls it, claims
    the method (it does unless implementation = in-tree).
    """
    manager = named.NamedExtensionManager(
        NAMESPACE, names=[NAME], name_order=True, invoke_on_load=False)
    if not manager.extensions:
        return None
    found = manager.extensions[0]
    if claimed and _claimed(found.entry_point):
        return OURS
    return f'{found.plugin.__module__}:{found.plugin.__qualname__}'


def check(conf):
    """Which get_flow Glance ends up with, found by loading it as Glance.

    Both glance_download entry points are listed; our claim is taken into
    account as our get_flow applies it when Glance first calls it, without
    applying it here.
    """
    eps = _entry_points()
    installed = any(ep.value == OURS for ep in eps)
    version = result.version()
    choice = conf[options.GROUP].implementation
    loaded = _loaded_function(installed and choice == 'plugin')
    outcome = 'plugin' if installed and choice == 'plugin' else 'in-tree'
    found = result.Result(
        result.OK, '',
        details=['entry point ' + _describe_entry_point(ep) for ep in eps],
        data={'entry_points': [ep.value for ep in eps],
              'installed': installed, 'version': version,
              'implementation': choice, 'outcome': outcome,
              'function': loaded})
    if loaded is None:
        found.status = result.FAIL
        found.summary = f'Glance finds no {NAME} plugin in {NAMESPACE}.'
        found.fix = ("Install glance-download with Glance's own python -m "
                     "pip, then restart glance-api.")
    elif outcome == 'plugin':
        found.summary = (f'this plugin, glance-download {version}: Glance '
                         f'loads {loaded}.')
        if loaded != OURS:
            found.status = result.FAIL
            found.summary = (f'Glance would load {loaded}, not this plugin '
                             f'({OURS}).')
            found.fix = ("Glance's plugin loading is not what this version "
                         "of glance-download expects; set [glance_download] "
                         "implementation = in-tree until it is upgraded.")
    else:
        via = (', which hands over to the in-tree flow' if loaded == OURS
               else '')
        found.summary = ("Glance's in-tree method: Glance loads "
                         f"{loaded}{via}.")
        if installed:
            found.summary += ' [glance_download] implementation = in-tree.'
        else:
            found.status = result.WARN
            found.summary += (' glance-download is not installed for '
                              f'{sys.executable}.')
            found.fix = ("Install glance-download with Glance's own python "
                         "-m pip to use this plugin.")
    return found
