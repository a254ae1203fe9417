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

"""What the import method and the ``openstack`` commands both rely on.

The server side runs inside glance-api, the client side on a user's
machine without Glance: the names they share are defined once, here, with
no import of Glance or of either side.
"""

# The import method's name, in the import call and in /v2/info/import.
METHOD = 'glance-download'
# The image property Glance sets when it accepts an import into the image
# and removes when the import ended: its value is the task id.
IMPORT_LOCK = 'os_glance_import_task'
