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

"""The python-openstackclient plugin: API name, version option, client.

``openstack`` finds this module through the ``openstack.cli.extension``
entry point, adds build_option_parser's option to its own, and loads the
commands of the group ``openstack.glance_download.v1``. The client it makes
is only the CLI's authenticated keystoneauth session, with the region and
interface the CLI was given: clouds.yaml, ``OS_*`` variables, ``--os-cloud``
and ``--os-region-name`` work as for every other command.
"""

import os

from glance_download.client import images
from glance_download.client import timing

API_NAME = 'glance_download'
API_VERSION_OPTION = 'os_glance_download_api_version'
DEFAULT_API_VERSION = '1'
# A dictionary: python-openstackclient 7.0.0 calls its keys() to name the
# supported versions when another is asked for; newer ones take a tuple.
API_VERSIONS = {'1': 'glance_download.client.plugin.Client'}


class Client:
    """The CLI's session, region and interface, and a client per region."""

    def __init__(self, session, region_name=None, interface=None):
        self.session = session
        self.region_name = region_name
        self.interface = interface or 'public'
        self.timeouts = timing.Timeouts()

    def set_timeouts(self, timeouts):
        """Bound every request of this client, Keystone's too.

        The CLI's session has no timeout (osc-lib sets none): the token and
        catalog requests get the read timeout, the image requests their
        own connect and read timeouts (timing.Timeouts).
        """
        self.timeouts = timeouts
        if self.session.timeout is None:
            self.session.timeout = max(timeouts.connect, timeouts.read)

    def regions(self):
        """Regions with an image endpoint in the user's catalog."""
        return images.catalog_regions(self.session, self.interface)

    def images(self, region):
        return images.RegionImages(self.session, region, self.interface,
                                   self.timeouts)

    @property
    def project_id(self):
        return self.session.get_project_id()


def make_client(instance):
    """The client of the ``glance_download`` API for OSC's client manager."""
    return Client(instance.session, region_name=instance.region_name,
                  interface=instance.interface)


def build_option_parser(parser):
    parser.add_argument(
        '--os-glance-download-api-version',
        metavar='<version>',
        default=os.environ.get('OS_GLANCE_DOWNLOAD_API_VERSION',
                               DEFAULT_API_VERSION),
        help='Version of the image copy and sync commands (only "1"; '
             'Env: OS_GLANCE_DOWNLOAD_API_VERSION)')
    return parser
