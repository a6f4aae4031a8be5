"""The list's room: who the readers are, how they are addressed, and how they leave.

``csvfile`` reads subscribers.csv (``records`` its CSV records, a quote left open
costing one row), ``addresses`` validates addresses (the email-validator adapter),
``active`` says who a send reaches and why the other rows are left out, ``packing``
dedupes the audience into the batches a send freezes, ``personalize`` gives each
reader their values and headers, and ``tokens`` seals their unsubscribe token.
"""
