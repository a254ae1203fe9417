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

"""The contributor guide's "where things are" table names code that exists.

A module or function renamed without the table following would send a
newcomer to nothing.
"""

import importlib
import os
import re
import unittest

GUIDE = os.path.join(os.path.dirname(__file__), '..', '..', 'doc', 'source',
                     'contributor', 'index.rst')
REFERENCE = re.compile(r'``(glance_download(?:\.\w+)*):([\w.]+)``')


def resolve(module, qualname):
    found = importlib.import_module(module)
    for name in qualname.split('.'):
        found = getattr(found, name)
    return found


class WhereThingsAreTest(unittest.TestCase):

    def test_every_reference_resolves(self):
        with open(GUIDE) as f:
            references = REFERENCE.findall(f.read())
        # Every step of the flow has a row, each with one or more names.
        self.assertGreater(len(references), 30)
        for module, qualname in references:
            with self.subTest(f'{module}:{qualname}'):
                self.assertTrue(callable(resolve(module, qualname)))

    def test_a_missing_name_is_found_out(self):
        self.assertRaises(AttributeError, resolve, 'glance_download.fetch',
                          'plan_resume')
        self.assertRaises(ImportError, resolve, 'glance_download.status',
                          'main')
