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

"""The commands of README.rst and doc/source/user/ work as written.

Each command the docs show (tests.toolkit.doc_commands) runs with bash,
as user ``demo`` of the test cloud (its openrc: clouds.yaml and the
``OS_*`` variables, the ``openstack`` and ``glance`` of the cloud's
virtual environment first on the PATH), and must exit with the status
the docs give. Each block has its own source and target images, named
for it; every image a block made is deleted after it. A document with an
operator's command (a sync of every public image of a region) has the
cloud alone.
"""

import os
import shlex
import subprocess
import tempfile
import uuid

from tests.functional import base
from tests.toolkit import doc_commands

KIB = 1024
REGIONS = ('REGION1', 'REGION2', 'REGION3', 'REGION4')
COMMAND_TIMEOUT = 300


class BlockValues(dict):
    """The test cloud's values of one block's placeholders, made on use."""

    # The values of an operator's commands, that act on every project.
    OPERATOR = {'admin_cloud'}

    def __init__(self, test):
        super().__init__()
        self.test = test
        self.suffix = uuid.uuid4().hex[:8]

    def __missing__(self, key):
        make = getattr(self, 'make_' + key, None)
        if make is None:
            self.test.fail(f'SUBSTITUTIONS use {{{key}}}: BlockValues has '
                           f'no make_{key} to make it')
        self[key] = value = make()
        return value

    def make_source(self):
        return self.test.source_image(data=os.urandom(64 * KIB),
                                      name='docs-source-' + self.suffix,
                                      tags=[self['tag']])

    def make_source_id(self):
        return self['source']['id']

    def make_source_name(self):
        return self['source']['name']

    def make_target_id(self):
        return self.test.target_image(region='REGION2')['id']

    def make_new_name(self):
        return 'docs-new-' + self.suffix

    def make_tag(self):
        return 'docs-' + self.suffix

    def make_region2_glance_url(self):
        return self.test.env['regions']['REGION2']['glance_url']

    def make_token(self):
        return self.test.demo.token

    def make_admin_cloud(self):
        self.test.source_image(data=os.urandom(64 * KIB),
                               identity=self.test.admin, visibility='public',
                               name='docs-public-' + self.suffix)
        return self.test.env['clouds']['admin']


class DocCommandsTest(base.FunctionalTest):

    # {test method name: document}, filled below.
    documents = {}

    def setUp(self):
        self.document = self.documents[self._testMethodName]
        with open(os.path.join(base.REPO, self.document)) as f:
            self.commands = doc_commands.commands(self.document, f.read())
        # An operator's command acts on every project's images: a
        # document with one has the cloud alone.
        self.exclusive = any(set(c.needs) & BlockValues.OPERATOR
                             for c in self.commands if c.runs)
        super().setUp()
        home = tempfile.TemporaryDirectory()
        self.addCleanup(home.cleanup)
        # curl fails on an HTTP error, as the commands' users would see.
        with open(os.path.join(home.name, '.curlrc'), 'w') as f:
            f.write('fail-with-body\n')
        self.shell_env = dict(
            os.environ, CURL_HOME=home.name,
            PATH=os.path.join(self.env['venv'], 'bin') + os.pathsep
            + os.environ.get('PATH', ''))
        glance_cli = os.path.join(self.env['venv'], 'bin', 'glance')
        self.assertTrue(os.path.exists(glance_cli),
                        f'No {glance_cli}: python-glanceclient '
                        '(test-requirements.txt) is missing, run '
                        'tools/venv.sh')

    def images(self):
        """{region: {image id: name}} of every image of the cloud."""
        found = {}
        for region in REGIONS:
            glance = self.glance(region, self.admin)
            names, path = {}, '/v2/images?visibility=all&limit=200'
            for _ in range(100):
                page = glance.call('GET', path, (200,)).json()
                names.update((i['id'], i.get('name')) for i in page['images'])
                if 'next' not in page:
                    break
                path = page['next']
            found[region] = names
        return found

    def delete_new_images(self, before, suffix):
        """Delete what a block made: images new since before.

        Only those whose names have the block's suffix, unless the test
        has the cloud alone: the other tests' images are theirs.
        """
        for region, names in self.images().items():
            glance = self.glance(region, self.admin)
            for image_id, name in names.items():
                if image_id not in before[region] and (
                        self.exclusive or suffix in (name or '')):
                    glance.delete(image_id)

    def run_command(self, command, values):
        """The finished bash process of one command (or script)."""
        text = command.render(values)
        # A command naming its cloud reads clouds.yaml alone: the OS_*
        # variables of an openrc would override what the cloud says.
        if '--os-cloud' in text:
            login = ('export OS_CLIENT_CONFIG_FILE='
                     + shlex.quote(self.env['clouds_yaml']))
        else:
            login = '. ' + shlex.quote(self.env['openrc']['demo'])
        lines = [login, 'set -e'] if command.script else [login]
        script = '\n'.join(lines + [text])
        env = dict(self.shell_env, **doc_commands.environment(values))
        return subprocess.run(['bash', '-c', script], env=env,
                              capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT,
                              stdin=subprocess.DEVNULL)

    def check_document(self):
        problems = [f'{c.where}: {p}' for c in self.commands
                    for p in c.problems]
        self.assertEqual([], problems)
        by_block = {}
        for command in self.commands:
            if command.runs:
                by_block.setdefault(command.block, []).append(command)
        for block in by_block.values():
            self.check_block(block)

    def check_block(self, block):
        values = BlockValues(self)
        self.addCleanup(self.delete_new_images, self.images(), values.suffix)
        for command in block:
            with self.subTest(command.where):
                result = self.run_command(command, values)
                self.assertEqual(
                    command.expected, result.returncode,
                    f'{command.where}: {command.render(values)}\n'
                    f'stdout: {result.stdout[-2000:]}\n'
                    f'stderr: {result.stderr[-2000:]}')


def document_test(path):
    def test(self):
        self.check_document()
    test.__doc__ = f'The commands of {path}.'
    return test


for _path in doc_commands.documents(base.REPO):
    _name = 'test_' + os.path.splitext(os.path.basename(_path))[0].lower(
        ).replace('-', '_')
    DocCommandsTest.documents[_name] = _path
    setattr(DocCommandsTest, _name, document_test(_path))
