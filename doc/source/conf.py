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

"""Sphinx configuration of the glance-download documentation."""

extensions = [
    'openstackdocstheme',
    # The configuration reference, from the code (.. show-options::).
    'oslo_config.sphinxext',
    # The sample configuration file, generated at every build.
    'oslo_config.sphinxconfiggen',
]

# oslo_config.sphinxconfiggen writes _static/glance-download.conf.sample.
config_generator_config_file = (
    '../../etc/oslo-config-generator/glance-download.conf')
sample_config_basename = '_static/glance-download'

openstackdocs_repo_name = 'openstack/glance-download'
openstackdocs_bug_project = 'glance-download'
openstackdocs_bug_tag = 'doc'
openstackdocs_auto_name = False

project = 'glance-download'
copyright = 'glance-download contributors'

# Pygments' console lexer cannot split multi-line JSON in a shell quote;
# it then highlights the block more plainly, which is no error.
suppress_warnings = ['misc.highlighting_failure']

source_suffix = '.rst'
master_doc = 'index'
exclude_patterns = ['_build']
pygments_style = 'native'

html_theme = 'openstackdocs'
