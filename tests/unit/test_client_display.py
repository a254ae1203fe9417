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

import io
import unittest

from glance_download.client import display
from glance_download import progress

MIB = 1024 * 1024


class ParseTest(unittest.TestCase):

    def test_parses_what_the_method_writes(self):
        message = progress.describe(MIB, 8 * MIB, 0.3125, 'REGION1')
        self.assertEqual((12, '1.0 MiB', '8.0 MiB', '3.2 MiB'),
                         progress.parse(message))

    def test_other_messages(self):
        self.assertIsNone(progress.parse('Copied 1 MiB'))
        self.assertIsNone(progress.parse(None))

    def test_compact_bar(self):
        line = display.compact('REGION2', 'importing', progress.describe(
            4 * MIB, 8 * MIB, 1, 'REGION1'), width=10)
        self.assertEqual(
            'REGION2  [#####.....]  50%  4.0 MiB of 8.0 MiB at 4.0 MiB/s',
            line)
        self.assertEqual('REGION2  active: done',
                         display.compact('REGION2', 'active', 'done'))

    def test_compact_names_the_relay(self):
        line = display.compact('REGION4', 'importing', progress.describe(
            4 * MIB, 8 * MIB, 1, 'REGION2'), width=10, via='REGION2')
        self.assertTrue(line.startswith('REGION4 via REGION2  [#####.....]'),
                        line)


class Terminal(io.StringIO):

    def isatty(self):
        return True


class DisplayTest(unittest.TestCase):

    def test_plain_lines_once_per_change(self):
        out = io.StringIO()
        shown = display.Display(out)
        shown.update('R2', 'importing', 'a')
        shown.update('R2', 'importing', 'a')
        shown.update('R4', 'queued', '')
        shown.update('R2', 'active', 'b')
        self.assertEqual('R2: importing - a\nR4: queued\nR2: active - b\n',
                         out.getvalue())

    def test_a_relayed_row_says_via_then_falls_back_on_its_line(self):
        out = io.StringIO()
        shown = display.Display(out)
        shown.update('R4', 'importing', 'a', via='R2')
        shown.update('R4', 'importing', 'a')
        self.assertEqual('R4: importing via R2 - a\nR4: importing - a\n',
                         out.getvalue())
        live = Terminal()
        shown = display.Display(live)
        shown.update('R4', 'importing', 'a', via='R2')
        shown.update('R4', 'queued', '')
        # One line, redrawn: no longer via the relay.
        self.assertEqual(1, shown.drawn)
        self.assertIn('R4 via R2  importing: a', live.getvalue())
        self.assertTrue(live.getvalue().endswith('R4  queued\n'))

    def test_live_redraws_in_place(self):
        out = Terminal()
        shown = display.Display(out)
        self.assertTrue(shown.live)
        shown.update('R2', 'importing', 'a')
        shown.update('R4', 'importing', 'b')
        text = out.getvalue()
        # The second drawing moves up over the first line and draws both.
        self.assertIn('\x1b[1A', text)
        self.assertEqual(3, text.count('\x1b[2K'))
        self.assertTrue(text.endswith('R4  importing: b\n'))
