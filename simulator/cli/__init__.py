"""The ``branchpoint`` command line."""
