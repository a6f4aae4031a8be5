"""digest: a blog's recent posts as a responsive email digest, sent through SendGrid."""

__version__ = "0.1.0"
