"""The CLI layer's command functions: the only place where stages are composed."""
