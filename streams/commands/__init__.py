"""Subcommands of the ``personalizer`` command line, one module each."""
