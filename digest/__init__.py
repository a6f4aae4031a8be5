"""digest: a blog's recent posts as a responsive email digest, sent through SendGrid.

How the code is laid out (README, "How the code is laid out")::

    digest/
      cli/           click only: options -> commands.<verb>.run(app, ...); errors -> exit codes
      commands/      one module per CLI verb: build, send (test_send, dry_run), history, init,
                     ledger, subscribers, unsubscribe, preview, archive, doctor, schedule
      web/           the ASGI apps (the unsubscribe endpoint, the editor's preview: its page,
                     frames, file watch) and the server they share; the web edition (archive)
      sending/       the send composed: edition (sources -> select -> render; a stored edition's
                     email), draft (the next edition as it stands), ready, plan (start, resume,
                     settle, rehearse), pipeline (the list read in a child), delivery (the loop),
                     workers, uncertain, backends, samples (tests, dry runs), preflight and
                     account (doctor's checks), sync and signups (the list kept: who left,
                     who joined)
      app.py         the run context: settings, clock, output; paths and today's edition, once
      console.py     the terminal (rich): lines, tables, the progress bar
      sources/       a feed or a Markdown folder -> Posts (fetch, sanitize)
      select.py      Posts -> the edition's Digest, a pure function
      render/        Digest -> RenderedEmail: Jinja, MJML, inlined CSS, links, per-reader tokens
      audience/      subscribers.csv in, addresses, who a send reaches, packing, personalizing
      deliver/       an edition to a batch of recipients: SendGrid, SMTP, outbox; MIME, retries
      ledger/        the SQLite ledger: schema, editions, batches, history, unsubscribes, locks
      schedule.py    cron + time zone -> run times; one tick; the loop
      config/        digest.toml + environment -> Settings: each key's type, default and rule
      models.py errors.py text.py urls.py files.py cron.py    the ground

Each line of the tree may import the lines below it, never those above (the preview in
``web/`` renders and sends tests through ``sending/``, so ``web/`` stands above it); the
stages (``sources/`` to ``schedule.py``) never import one another, only ``config/`` and the
ground; each outside library is imported by one adapter module (sendgrid by
``deliver/sendgrid.py``, jinja2 by ``render/templates.py``, sqlite3 by ``ledger/`` and the
dedupe's spill table in ``audience/packing.py``, ...). ``lint-imports`` checks all of it
(the contracts are in ``pyproject.toml``).

Where a new thing goes:

- a command: ``commands/<verb>.py`` with ``run(app, ...)``, and one function in ``cli/``
  (``edition.py``, ``folder.py`` or ``running.py``)
  (a subcommand: a function in its group's module, as ``subscribers.check``);
- a config key: a field of its section in ``config/settings.py`` with its default, help
  and rule (``config/checks.py``), and its row in *Configuration reference*;
- a ledger table: a migration appended to ``ledger/schema.py``, and a module of methods
  (a ``Store`` subclass) listed in ``Ledger``'s bases in ``ledger/__init__.py``;
- a web app: a module in ``web/`` built with ``web/server.py``'s ``web_app``;
- an error: a ``DigestError`` subclass in ``errors.py``, with its hint;
- an outside library: its one adapter module, and a contract in ``pyproject.toml``.
"""

# The distribution's name on the package index (`pip install digest-newsletter`): `digest`
# there is another project. The import package and the command stay `digest`.
DISTRIBUTION = "digest-newsletter"
# The one place the version is written: pyproject.toml reads it from here.
__version__ = "0.1.0"
