"""``python -m simulator.cli`` runs the ``branchpoint`` command line."""

from simulator.cli.app import main

main()
