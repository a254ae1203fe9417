"""``openstack image copy`` and ``openstack image sync``.

The client side of glance-download: a python-openstackclient plugin that
copies images between regions with the import method. It speaks to Glance
over its API only and never needs Glance, or this package's server side,
to be installed.
"""
