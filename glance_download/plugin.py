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

"""Entry point Glance calls to build the glance-download part of an import.

Registered as ``glance_download`` in the
``glance.image_import.internal_plugins`` namespace. Glance calls it with
keyword arguments (task_id, task_type, context, task_repo, image_repo,
image_id, import_req, backend, action_wrapper, ...) while it builds its
import flow, and adds the flow we return after its image lock and before
its own import-to-store steps.

Glance ships an in-tree plugin of the same name; see
boundary.takeover.claim_method for how this one is made the one Glance
uses, and the ``implementation`` option for how an operator chooses the
in-tree one instead.

Nothing here talks to the network or raises for bad user input: a failure
while Glance builds the flow would leave the image locked, so every check
runs inside the tasks, whose failures Glance reverts cleanly.
"""

import functools

from taskflow.patterns import linear_flow

from glance_download.boundary import config
from glance_download.boundary import reporting
from glance_download.boundary import repositories
from glance_download.boundary import takeover
from glance_download import options
from glance_download import periodic
from glance_download import sweep
from glance_download.tasks import base
from glance_download.tasks import copy_from_twin
from glance_download.tasks import copy_metadata
from glance_download.tasks import download_to_staging
from glance_download.tasks import read_source


def get_flow(**kwargs):
    conf = config.CONF
    options.register_opts(conf)
    if conf[options.GROUP].implementation == 'in-tree':
        return takeover.in_tree_flow(**kwargs)
    takeover.claim_method(get_flow)
    takeover.take_over_metadata_step()
    reporting.keep_closing_lines()
    sweep.ensure_started(conf)

    task_id = kwargs['task_id']
    task_type = kwargs['task_type']
    action_wrapper = kwargs['action_wrapper']
    stores = kwargs.get('backend') or [None]
    method = kwargs['import_req'].get('method') or {}

    connection = base.Connection()
    reporter = reporting.TaskReporter(kwargs['task_repo'], task_id,
                                      action_wrapper)
    # The heartbeat: from here until the task ends, through our steps and
    # Glance's, the import writes to its task every heartbeat_interval
    # seconds, whatever its own thread is doing: waiting for the source's
    # record or data, sleeping before a retry, or running Glance's steps
    # after ours. A task left unwritten for many intervals therefore
    # belongs to a process that is gone (see recovery.py). It ends once
    # touch_task returns False: the task ended or is no longer ours.
    periodic.Periodic(
        functools.partial(repositories.touch_task, task_id,
                          action_wrapper.image_id),
        conf[options.GROUP].heartbeat_interval, 'The import heartbeat',
        name='glance-download-heartbeat').start()
    return linear_flow.Flow(f'{task_type}-GlanceDownload-{task_id}').add(
        read_source.ReadSourceImage(task_id, task_type, conf,
                                    action_wrapper, kwargs['context'],
                                    method, connection, stores),
        copy_metadata.CopyMetadata(task_id, task_type, conf, action_wrapper),
        copy_from_twin.CopyFromTwin(task_id, task_type, conf,
                                    action_wrapper, kwargs['context'],
                                    connection, reporter),
        download_to_staging.DownloadToStaging(task_id, task_type, conf,
                                              action_wrapper, connection,
                                              reporter, stores),
    )
