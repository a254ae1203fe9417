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

"""GD901, the check that keeps one way of formatting strings."""

import ast
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
