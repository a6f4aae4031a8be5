"""The send's room: the stages composed into `digest send` and its test and dry-run modes.

``edition`` makes one edition's email (sources -> select -> render), rebuilds a stored
one and its Message, and the Personalizer its tokens need; ``draft`` is the next edition
as it stands, for `digest build` and the preview, and how a reader sees it; ``ready``
says what keeps a send from starting; ``plan`` starts or resumes the edition (or
rehearses it, in SendGrid's sandbox) and settles uncertain batches (``settle``);
``pipeline`` reads the list in a child process (``offload``) and packs it; ``delivery``
runs the loop that sends batches through ``workers`` and records each in the ledger;
``uncertain`` lists the readers of uncertain batches; ``backends`` makes the configured
backend; ``samples`` sends tests (`digest send --to`, the preview's button) and writes
dry runs; ``outcome`` is what a run did. ``sync`` marks in the list who left (the
ledger's and SendGrid's unsubscribes, bounces and complaints), before a send;
``signups`` merges a sign-up export into it.
"""
