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

"""The readable part of a Glance error body, for the row's message.

Glance answers an error as JSON, HTML or text, with webob's markup in it;
a row says only the message, short enough for a table cell.
"""

import html
import json
import re

# Glance's error texts end with webob's line breaks.
_BREAK = re.compile(r'<br\s*/?>', re.IGNORECASE)
_TAG = re.compile(r'<[^>]*>')
_HTML_HEAD = re.compile(r'<head>.*?</head>|<h1>.*?</h1>|<title>.*?</title>',
                        re.IGNORECASE | re.DOTALL)
_STATUS_LINE = re.compile(r'^\d{3} ')
_ERROR_MAX = 500


def error_text(body):
    """The readable part of a Glance error body, without markup.

    Glance (webob) answers an error as JSON, ``{"message": ..., "code":
    "409 Conflict", "title": "Conflict"}``, when asked for JSON, else as an
    HTML page or as text starting with the status line; the message itself
    ends with ``<br /><br />``. keystonemiddleware nests its own under
    ``"error"``; other services say ``"description"``. The status line is
    left out: the caller shows the status already.
    """
    text = _json_message(body or '')
    if text is None:
        text = _HTML_HEAD.sub(' ', body or '')
    text = html.unescape(_TAG.sub(' ', _BREAK.sub('\n', text)))
    lines = [' '.join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1 and _STATUS_LINE.match(lines[0]):
        lines = lines[1:]
    return ' '.join(lines)[:_ERROR_MAX]


def _json_message(body):
    """The message of a JSON error body, or None when it is not one."""
    try:
        found = json.loads(body)
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    if len(found) == 1 and isinstance(next(iter(found.values())), dict):
        found = next(iter(found.values()))
    for key in ('message', 'description', 'detail', 'title'):
        if isinstance(found.get(key), str) and found[key].strip():
            return found[key]
    return None
