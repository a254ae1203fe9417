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

"""client-min-constraints.txt pins exactly the declared minimums.

``tox -e client-min`` tests the client on those pins: a floor raised or
added in setup.cfg or requirements.txt without the pins following would
go untested.
"""

import configparser
import os
import re
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FLOOR = re.compile(r'^([A-Za-z0-9_.-]+)\s*>=\s*([^,;#\s]+)')


def floors(lines):
    """{name: oldest version} of requirement lines with a >= bound."""
    found = {}
    for line in lines:
        match = FLOOR.match(line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def pins(lines):
    return {name.lower(): version for name, version in
            (line.split('#')[0].strip().split('==') for line in lines
             if line.split('#')[0].strip())}


def read_lines(name):
    with open(os.path.join(REPO, name)) as f:
        return f.read().splitlines()


class MinimumsTest(unittest.TestCase):

    def test_pins_are_the_floors(self):
        setup = configparser.ConfigParser()
        setup.read(os.path.join(REPO, 'setup.cfg'))
        declared = floors(read_lines('requirements.txt'))
        declared.update(floors(setup['extras']['client'].splitlines()))
        self.assertIn('python-openstackclient', declared)
        self.assertEqual(declared,
                         pins(read_lines('client-min-constraints.txt')))

    def test_floors_and_pins_parse(self):
        self.assertEqual({'a': '1.0', 'b.c': '2'},
                         floors(['A>=1.0 # x', 'b.c>=2,<3', 'd', '# e>=1']))
        self.assertEqual({'a': '1.0'}, pins(['# comment', '', 'A==1.0']))
