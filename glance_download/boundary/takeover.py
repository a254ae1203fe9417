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

"""This plugin, not Glance's in-tree one, serves the glance-download method.

Glance registers an in-tree implementation under the same entry point
name, and adds a metadata step of its own to the method's flow: both are
taken over here, and Glance's own flow stays reachable for operators who
choose it.
"""

import importlib
import logging

from glance.async_.flows import api_image_import

from glance_download import errors

LOG = logging.getLogger(__name__)

PLUGIN_NAMESPACE = 'glance.image_import.internal_plugins'
PLUGIN_NAME = 'glance_download'
IN_TREE_MODULE = 'glance.async_.flows._internal_plugins.glance_download'

# Glance's own get_flow, kept when claim_method() replaces it.
_in_tree = {}


def _in_tree_module():
    try:
        return importlib.import_module(IN_TREE_MODULE)
    except ImportError:
        return None


def claim_method(get_flow):
    """Make Glance build ``get_flow``'s flow for glance-download, always.

    Glance 25 and later register an in-tree plugin under the same name.
    To load the name, stevedore imports and calls every implementation in
    the order it finds them, which follows the directory listing of
    site-packages, and keeps the last. Both are called, so the first call of
    ours points the in-tree entry point at ``get_flow``: if the in-tree one
    comes later, loading it then gives ours. Either order ends with our
    flow, from the first import on.
    """
    module = _in_tree_module()
    if module is None or module.get_flow is get_flow:
        return
    _in_tree.setdefault('get_flow', module.get_flow)
    module.get_flow = get_flow


def in_tree_flow(**kwargs):
    """Glance's own glance-download flow, for operators who choose it."""
    original = _in_tree.get('get_flow')
    if original is None:
        original = getattr(_in_tree_module(), 'get_flow', None)
    if original is None:
        raise errors.InvalidRequest(
            "This Glance has no in-tree glance-download method; set "
            "[glance_download] implementation = plugin.")
    return original(**kwargs)


def _host_metadata_step_skipped(self, *args, **kwargs):
    """Replaces the execute and revert of Glance's own metadata step."""
    return None


def take_over_metadata_step():
    """Leave reading and copying the source's metadata to our flow.

    Glance's import flow adds a metadata task of its own for the
    glance-download method before any internal plugin, and no setting turns
    it off. It would read the source record a second time, copy reserved
    attributes a prefix happens to match, and fail first, with "Internal
    Error" as the only message, on exactly the requests our flow explains.
    Its methods are looked up when the flow runs, so replacing them also
    covers the flow being built while this plugin is first loaded. Its
    revert goes too: it would only set the image to ``queued`` a second
    time after our first task did, which Glance refuses.
    """
    step = getattr(api_image_import, '_ImportMetadata', None)
    if step is None:
        LOG.warning('Glance has no glance-download metadata step to take '
                    'over; its import flow has changed.')
        return False
    step.execute = _host_metadata_step_skipped
    step.revert = _host_metadata_step_skipped
    return True
