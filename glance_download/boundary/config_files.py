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

"""glance-api's configuration files, read outside glance-api.

For the console scripts: the same files and the same options glance-api
has once it is running. glance-api never loads this module: what the
plugin needs from Glance at run time is in the package's other modules.
These functions follow Glance's WSGI start-up, and
tests/unit/test_config_files.py checks them against the installed Glance.
"""

from oslo_config import cfg

from glance.common import wsgi_app
import glance_store

from glance_download.boundary import config

CONF = config.CONF

STAGING_GROUP = 'os_glance_staging_store'


def glance_api_config_files():
    """The files glance-api reads when it is started without arguments.

    That is ``glance-api.conf`` (and ``glance-image-import.conf`` when
    present) in ``$OS_GLANCE_CONFIG_DIR``, ``/etc/glance`` by default, as
    Glance's WSGI application finds them.
    """
    return wsgi_app._get_config_files()


def parse_config(args, **kwargs):
    """Parse ``args`` and Glance's configuration files into CONF.

    Without ``--config-file``, the files are glance-api's own. The
    ``[keystone_authtoken]`` options are registered as keystonemiddleware,
    in Glance's pipeline, registers them. ``kwargs`` go to oslo.config
    (prog, version, description).
    """
    try:
        import keystonemiddleware.auth_token  # noqa: F401 registers options
    except ImportError:
        pass
    CONF(args=args, project='glance',
         default_config_files=glance_api_config_files(),
         default_config_dirs=cfg.find_config_dirs(project='glance',
                                                  prog='glance-api'),
         **kwargs)


def register_staging_store_opts():
    """Register ``[os_glance_staging_store]`` as glance-api does at start.

    Only with multiple stores (``enabled_backends``), where it is the
    staging area; glance_store then registers the reserved stores' options.
    A group registered before in this process is kept.
    """
    if not CONF.enabled_backends or STAGING_GROUP in CONF:
        return
    glance_store.register_store_opts(
        CONF, reserved_stores=wsgi_app.RESERVED_STORES)
