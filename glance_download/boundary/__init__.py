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

"""The boundary with Glance: the only package that imports it.

Everything the plugin and its console scripts need from their host goes
through one module of this package per concern, and each module is the
only one that touches that part of Glance.  Callers import the module
they need (``from glance_download.boundary import staging``); this file
re-exports nothing, so that loading the package loads no Glance.

- ``config``: the global configuration, with Glance's options on it.
- ``config_files``: glance-api's configuration files, read outside
  glance-api by the console scripts (glance-api never loads it).
- ``series``: where the supported Glance series (30 to 33) differ.
- ``filtering``: Glance's import filtering, and the address it allows.
- ``staging``: the staging area Glance's next task reads, and its files.
- ``formats``: the formats and the largest size this Glance accepts.
- ``image_metadata``: Glance's reserved names, and changing the target
  image's formats and properties (and putting them back).
- ``takeover``: this plugin, not Glance's in-tree one, serving the
  method, and Glance's own metadata step skipped.
- ``reporting``: the task's progress message, and the exception whose
  text Glance writes into a failed task.
- ``store_feed``: Glance's store step, fed with the staged data while
  it still arrives.
- ``stores``: the target stores, and the data a stopped store step
  left in them without a location.
- ``local_images``: images of this Glance with the source's content,
  found and read with the caller's own context (twin.py decides).
- ``repositories``: Glance's database, read and written by the recovery
  of imports whose glance-api stopped.

The rule is checked: GD902 (glance_download/hacking/checks.py) flags
any other import of ``glance`` or ``glance_store`` in the project, outside
the unit tests (which build their fakes from Glance). A Glance upgrade
should touch this package only;
tests/unit/test_boundary.py checks these contracts against the installed
Glance.
"""
