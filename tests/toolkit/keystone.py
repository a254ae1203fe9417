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

"""A user's token from the test cloud's Keystone."""


def password_auth(username, password, project_name,
                  user_domain='Default', project_domain='Default'):
    """The body of a project-scoped password POST /v3/auth/tokens.

    Standard library only: tools/cloud populates Keystone with it before
    keystoneauth1 is installed.
    """
    return {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': username, 'domain': {'name': user_domain},
            'password': password}}},
        'scope': {'project': {'name': project_name,
                              'domain': {'name': project_domain}}}}}


class Identity:
    """One user's project-scoped token, renewed by keystoneauth1."""

    def __init__(self, keystone_url, creds):
        from keystoneauth1.identity import v3
        from keystoneauth1 import session

        self.session = session.Session(auth=v3.Password(
            auth_url=keystone_url, username=creds['username'],
            password=creds['password'],
            user_domain_name=creds.get('user_domain_name', 'Default'),
            project_name=creds['project_name'],
            project_domain_name=creds.get('project_domain_name',
                                          'Default')))

    @property
    def token(self):
        return self.session.get_token()

    @property
    def project_id(self):
        return self.session.get_project_id()
