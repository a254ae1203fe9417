"""The ``glance-download`` interoperable image import method for Glance."""
