"""Console scripts, run with Glance's Python and configuration files."""
