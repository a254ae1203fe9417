"""The import task tells the user how far the download is."""

import os
import urllib.parse

from tests.functional import base
from tests.functional import proxy

MIB = 1024 * 1024


class ProgressTest(base.FunctionalTest):

    def test_task_message_shows_progress(self):
        slow = self.env['slow_region']
        upstream = urllib.parse.urlsplit(
            self.env['regions'][slow['upstream']]['glance_url'])
        source = self.source_image(data=os.urandom(12 * MIB))
        target = self.target_image()
        glance = self.glance('REGION2')
        messages = []
        with proxy.ThrottlingProxy(slow['port'],
                                   (upstream.hostname, upstream.port),
                                   rate=3 * MIB):
            response = glance.import_image(
                target['id'], base.glance_download(source['id'],
                                                   slow['region']))
            self.assertEqual(202, response.status_code, response.text)
            image, task = self.wait_for(glance, target['id'], messages)
        self.assertEqual('success', task['status'], task['message'])
        self.assertEqual(source['os_hash_value'], image['os_hash_value'])
        progress = [m for m in messages if m.startswith(
            'Downloading from region %s: ' % slow['region'])]
        # Several updates, growing, each with total, percentage and rate.
        self.assertGreaterEqual(len(progress), 2, messages)
        for message in progress:
            self.assertIn(' of 12.0 MiB (', message)
            self.assertRegex(message, r'\(\d+%\) at [\d.]+ (B|KiB|MiB)/s$')
        self.assertNotIn(self.demo.token, '\n'.join(messages))
