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

# Glance 30 to 32 import eventlet's green modules (glance.common.utils
# imports eventlet.green.socket). Imported after the standard library's
# http.server, they leave its ThreadingHTTPServer unable to shut down, and
# the tests' fake servers hang: load Glance, through the boundary module
# that imports glance.common.utils, before any test module imports
# http.server. The client's tests also run where Glance is not installed
# at all (tox -e client-min).
try:
    from glance_download.boundary import series  # noqa: F401
except ImportError:
    series = None
