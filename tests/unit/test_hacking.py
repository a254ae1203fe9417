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

"""GD901, one way of formatting strings; GD902, Glance behind the boundary."""

import ast
import os
import textwrap
import unittest

from glance_download.hacking import checks


def flagged(source):
    """The (line, column) of every GD901 in source."""
    tree = ast.parse(textwrap.dedent(source))
    return [(line, col) for line, col, message, _type
            in checks.FormatStringCheck(tree).run()
            if message.startswith('GD901')]


class FormatStringCheckTest(unittest.TestCase):

    def test_percent_on_a_literal(self):
        self.assertEqual([(1, 4)], flagged("x = 'image %s' % image_id"))

    def test_percent_on_an_implicit_concatenation(self):
        self.assertEqual([(2, 5)], flagged("""
            x = ('image %s in region %s '
                 'is gone' % (image_id, region))
            """))

    def test_percent_with_a_dict(self):
        self.assertEqual([(1, 0)], flagged("'%(a)s' % {'a': 1}"))

    def test_format_on_a_literal(self):
        self.assertEqual([(1, 4)], flagged("x = 'image {}'.format(image_id)"))

    def test_preformatted_logging_call(self):
        self.assertEqual([(1, 10)],
                         flagged("LOG.debug('image %s' % image_id)"))

    def test_nested(self):
        self.assertEqual(2, len(flagged("'%s' % ('%d' % n)")))

    def test_message(self):
        tree = ast.parse("'%s' % x")
        (line, col, message, type_), = checks.FormatStringCheck(tree).run()
        self.assertEqual(checks.GD901, message)
        self.assertIs(checks.FormatStringCheck, type_)

    def test_not_flagged(self):
        for source in (
                # Modulo arithmetic.
                'x = i % 2',
                'x = (offset + size) % block',
                # Lazy logging arguments.
                "LOG.debug('image %s in region %s', image_id, region)",
                "LOG.warning('%d%% done', percent)",
                # f-strings, also on their own with a literal percent.
                "x = f'image {image_id} is {percent:.0f}% done'",
                # The % operator on a variable: it may be modulo.
                'x = template % values',
                # Bytes have no f-string.
                "x = b'%d' % n",
                # format() on anything but a literal.
                'x = template.format(image_id)',
                "x = format(size, ',d')",
                # A percent sign in a plain string.
                "x = '100%'",
        ):
            with self.subTest(source=source):
                self.assertEqual([], flagged(source))


def glance_imports(source, filename='glance_download/fetch.py'):
    """The (line, column) of every GD902 in source, as in ``filename``."""
    tree = ast.parse(textwrap.dedent(source))
    return [(line, col) for line, col, message, _type
            in checks.GlanceImportCheck(tree, filename).run()
            if message.startswith('GD902')]


class GlanceImportCheckTest(unittest.TestCase):

    GLANCE = """
        import os
        from glance.common import exception as glance_exc
        import glance.db
        import glance_store
        from glance_store import backend
        import json, glance
        """

    def test_every_import_of_glance_is_flagged(self):
        self.assertEqual([(3, 0), (4, 0), (5, 0), (6, 0), (7, 0)],
                         glance_imports(self.GLANCE))

    def test_nested_import(self):
        self.assertEqual([(3, 4)], glance_imports("""
            def f():
                from glance.async_.flows import api_image_import
            """))

    def test_message(self):
        tree = ast.parse('import glance')
        (line, col, message, type_), = checks.GlanceImportCheck(
            tree, 'glance_download/plugin.py').run()
        self.assertEqual(checks.GD902, message)
        self.assertIs(checks.GlanceImportCheck, type_)

    def test_flagged_everywhere_else(self):
        for filename in ('glance_download/plugin.py',
                         './glance_download/cmd/status.py',
                         'glance_download/client/copy.py',
                         'glance_download/boundary.py',
                         'tests/functional/base.py',
                         'tests/toolkit/cloud.py',
                         'tools/bench',
                         'setup.py'):
            with self.subTest(filename=filename):
                self.assertEqual(5, len(glance_imports(self.GLANCE,
                                                       filename)))

    def test_allowed_in_the_boundary_and_the_unit_tests(self):
        for filename in ('glance_download/boundary/staging.py',
                         './glance_download/boundary/config_files.py',
                         os.path.abspath('glance_download/boundary/x.py'),
                         'tests/unit/boundary_fakes.py'):
            with self.subTest(filename=filename):
                self.assertEqual([], glance_imports(self.GLANCE, filename))

    def test_not_flagged(self):
        for source in (
                'from glance_download import fetch',
                'from glance_download.boundary import staging',
                'import glance_download.boundary.staging',
                'import glanceclient',
                'from glanceclient.v2 import client',
                'from . import glance',
                'import glancer',
                "importlib.import_module('glance.db')",
        ):
            with self.subTest(source=source):
                self.assertEqual([], glance_imports(source))
