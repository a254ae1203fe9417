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

"""SQLite settings for the test cloud's servers (see tools/cloud).

tools/cloud has uWSGI import this module into Keystone's and Glance's
workers before their application. It makes SQLite behave, under concurrent
requests and import tasks, like the databases these services are meant
for: a transaction that has to wait for another one waits, instead of
failing with "database is locked".

oslo.db starts every SQLite transaction with a plain (deferred) BEGIN. A
transaction that reads and then writes must then upgrade its lock; when
another connection wrote in between, SQLite fails the upgrade at once,
without waiting (the busy timeout does not apply), and the service answers
500 or an import task fails. Starting transactions with BEGIN IMMEDIATE
takes the write lock up front, where SQLite does wait, for up to the busy
timeout set below. Only SQLite connections are affected.
"""

import sqlite3

from sqlalchemy.engine import Engine
from sqlalchemy import event
from sqlalchemy.pool import Pool

BUSY_TIMEOUT_MS = 60000


@event.listens_for(Pool, 'connect')
def _busy_timeout(dbapi_connection, connection_record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(
            f'PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}')


@event.listens_for(Engine, 'begin')
def _begin_immediate(connection):
    # Listeners registered on the Engine class run before those of each
    # engine, so this runs before oslo.db's own, which then sees the
    # transaction started ("in_transaction") and emits nothing.
    if (connection.dialect.name == 'sqlite'
            and 'in_transaction' not in connection.info):
        connection.exec_driver_sql('BEGIN IMMEDIATE')
        connection.info['in_transaction'] = True
