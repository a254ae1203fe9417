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

"""The extraction of the docs' commands (tests.toolkit.doc_commands).

tests.functional.test_doc_commands runs what it finds: a command it
missed, or a placeholder it let through, would not be tested at all.
"""

import os
import textwrap
import unittest

from tests.toolkit import doc_commands

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
VALUES = {'source_id': 'SRC', 'source_name': 'src-name', 'target_id': 'TGT',
          'new_name': 'new-name', 'tag': 'tag-1', 'admin_cloud': 'gd-admin',
          'region2_glance_url': 'http://127.0.0.1:2', 'token': 'TOK'}


def extract(text):
    return doc_commands.commands('doc.rst', textwrap.dedent(text))


class ExtractTest(unittest.TestCase):

    def test_console_commands_continuations_and_output(self):
        first, second = extract('''\
            Intro.

            .. code-block:: console

                $ openstack --os-region-name RegionTwo image import \\
                    --method glance-download \\
                    <target image id>
                some output
                $ openstack image list

            After.
            ''')
        self.assertEqual(
            'openstack --os-region-name RegionTwo image import --method '
            'glance-download <target image id>', first.text)
        self.assertEqual(('doc.rst:5', 0, True, []),
                         (first.where, first.expected, first.runs,
                          first.problems))
        self.assertEqual(('openstack image list', 'doc.rst:9'),
                         (second.text, second.where))
        self.assertEqual(first.block, second.block)

    def test_echo_status_states_the_expected_status(self):
        failing, passing = extract('''\
            .. code-block:: console

                $ openstack image copy <image> --to-region RegionThree
                +--------+
                $ echo $?
                3
                $ openstack image list
            ''')
        self.assertEqual((3, 0), (failing.expected, passing.expected))

    def test_echo_without_status_is_an_error(self):
        self.assertRaises(ValueError, extract, '''\
            .. code-block:: console

                $ openstack image list
                $ echo $?
            ''')
        self.assertRaises(ValueError, extract, '''\
            .. code-block:: console

                $ echo $?
                0
            ''')

    def test_literal_blocks_and_other_languages(self):
        found = extract('''\
            Run this::

                $ openstack image list

            Output only::

                task: Downloading

            .. code-block:: python

                $ openstack not-a-command
            ''')
        self.assertEqual(['openstack image list'], [c.text for c in found])

    def test_bash_block_is_one_script(self):
        [script] = extract('''\
            .. code-block:: bash

                TOKEN=$(openstack token issue -f value -c id)
                curl -sS -X POST "$GLANCE/v2/images" \\
                  -d '{"name": "my-image",
                       "disk_format": "raw"}'
            ''')
        self.assertTrue(script.script)
        self.assertEqual([], script.problems)
        self.assertIn('"disk_format": "raw"}\'', script.text)
        self.assertEqual(['new_name'], script.needs)

    def test_script_programs_are_checked(self):
        [script] = extract('''\
            .. code-block:: bash

                OUT=$(rm -rf /)
                curl -sS "$GLANCE/v2/images"
            ''')
        self.assertEqual(['rm is neither run (openstack, glance, curl) nor '
                          'excluded with a reason (EXCLUDED)'],
                         script.problems)

    def test_excluded_with_a_reason_or_a_problem(self):
        demo, pip, tox = extract('''\
            .. code-block:: console

                $ tools/demo --fast
                $ python3 -m pip install 'glance-download[client]'
                $ tox -e docs
            ''')
        self.assertFalse(demo.runs)
        self.assertIn('test cloud of its own', demo.excluded)
        self.assertFalse(pip.runs)
        self.assertTrue(tox.runs)
        self.assertEqual(['tox is neither run (openstack, glance, curl) nor '
                          'excluded with a reason (EXCLUDED)'], tox.problems)

    def test_placeholders_are_substituted(self):
        [command] = extract('''\
            .. code-block:: console

                $ openstack --os-cloud admin image sync \\
                    --from-region RegionOne --to-all-regions --tag golden \\
                    --image <image> --name my-image
            ''')
        self.assertEqual(['admin_cloud', 'new_name', 'source_id', 'tag'],
                         command.needs)
        self.assertEqual(
            'openstack --os-cloud gd-admin image sync --from-region REGION1 '
            '--to-all-regions --exclude-region SLOW-REGION1 --tag tag-1 '
            '--image SRC '
            '--name new-name', command.render(VALUES))

    def test_only_whole_words_are_substituted(self):
        [command] = extract('''\
            .. code-block:: console

                $ openstack image list --tag goldenrod --name my-image-2
            ''')
        self.assertEqual([], command.needs)
        self.assertEqual(command.text, command.render(VALUES))

    def test_a_placeholder_without_a_value_is_a_problem(self):
        [command] = extract('''\
            .. code-block:: console

                $ openstack image show <image id> --os-auth-url \\
                    https://keystone.example.com:5000/v3
            ''')
        self.assertEqual(
            ["no value for '<image id>' in SUBSTITUTIONS",
             "no value for 'keystone.example.com:5000/v3' in SUBSTITUTIONS"],
            command.problems)

    def test_environment(self):
        self.assertEqual({'TOKEN': 'TOK', 'GLANCE': 'http://127.0.0.1:2'},
                         doc_commands.environment(VALUES))


class RealDocsTest(unittest.TestCase):
    """README.rst and doc/source/user/, as the functional test reads them."""

    def setUp(self):
        super().setUp()
        self.found = []
        for path in doc_commands.documents(REPO):
            with open(os.path.join(REPO, path)) as f:
                self.found += doc_commands.commands(path, f.read())

    def test_no_problem(self):
        self.assertEqual([], [f'{c.where}: {p}' for c in self.found
                              for p in c.problems])

    def test_commands_are_found(self):
        runs = [c for c in self.found if c.runs]
        self.assertGreaterEqual(len(runs), 14)
        programs = {c.text.split()[0] for c in runs if not c.script}
        self.assertEqual({'openstack', 'glance', 'curl'}, programs)
        self.assertTrue(any(c.script for c in runs))
        self.assertTrue(any(c.expected for c in runs))
        self.assertIn('doc/source/user/copy-and-sync.rst',
                      {c.path for c in runs})

    def test_every_substitution_is_used(self):
        """An entry of the table that no document uses is stale."""
        for entry in doc_commands.SUBSTITUTIONS:
            with self.subTest(entry.placeholder):
                self.assertTrue(any(doc_commands.find(entry.placeholder,
                                                      c.text)
                                    for c in self.found if c.runs))
