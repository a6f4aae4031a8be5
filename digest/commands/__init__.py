"""One module per CLI verb, and nothing else: each takes the run's App (``app.py``), does
its job with what ``sending/``, ``web/`` and the stages offer, and says what it did.

``build``, ``send`` (with ``test_send`` for --to and ``dry_run`` for --dry-run),
``history``, ``init``, ``ledger`` (``backup``), ``subscribers`` (``check``),
``unsubscribe`` (``serve``), ``preview``, ``archive``, ``doctor`` and ``schedule``
(``next``, ``--once``, the loop). A new verb is a module here and one function in
``cli/``; a new subcommand of a group is a function in its group's module.
"""
