"""HTTP API: the only layer that knows about requests, users, keys and authorisations."""
