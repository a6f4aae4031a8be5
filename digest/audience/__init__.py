"""The list's room: who the readers are, how they are addressed, and how they leave.

``csvfile`` reads subscribers.csv and says who a send reaches, ``addresses`` validates
addresses (the email-validator adapter), ``packing`` dedupes the audience into the
batches a send freezes, ``personalize`` gives each reader their values and headers,
and ``tokens`` seals their unsubscribe token.
"""
