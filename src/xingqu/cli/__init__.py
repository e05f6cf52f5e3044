"""The ``xingqu`` command line."""
