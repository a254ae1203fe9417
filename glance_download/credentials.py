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

"""Service credentials and TLS settings, as a configuration section sets them.

The plugin's session to remote Glances and glance-download-status's session
to Keystone read them here, the way keystoneauth1 reads them in every
OpenStack service, so that the command checks with what the plugin uses.
"""

from keystoneauth1 import loading as ks_loading


def tls(group):
    """keystoneauth1 ``Session`` ``verify`` and ``cert`` from a section.

    Read from the section that names the credentials, not from its
    ``auth_section``, as keystoneauth1 and keystonemiddleware read them.
    Options the section does not have take keystoneauth1's defaults:
    verified against requests' CA bundle, no client certificate.
    """
    def get(name):
        return group[name] if name in group else None
    verify = False if get('insecure') else (get('cafile') or True)
    certfile, keyfile = get('certfile'), get('keyfile')
    cert = (certfile, keyfile) if certfile and keyfile else certfile
    return {'verify': verify, 'cert': cert}


def auth_section(conf, group):
    """Where the options of ``group``'s plugin are.

    That is its ``auth_section``, else ``group`` itself.
    """
    ks_loading.register_auth_conf_options(conf, group)
    return conf[group].auth_section or group


def service_auth(conf, group):
    """The keystoneauth1 plugin ``group`` configures; None without one.

    Read from ``auth_section(conf, group)``: None when no ``auth_type`` is
    set there. keystoneauth1's errors for unusable options pass through.
    """
    ks_loading.register_auth_conf_options(conf, group)
    return ks_loading.load_auth_from_conf_options(conf, group)
