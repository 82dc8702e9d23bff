"""Keep a Ray cluster of the tests on the loopback: `python -m tests.support.ray_loopback start ...` is `ray start`
with 127.0.0.1 kept as the node's address.

Ray (2.x on Linux) replaces a node or bootstrap address of 127.0.0.1 with the machine's own address
(`services.resolve_ip_for_localhost`), so without this a cluster started on 127.0.0.1 talks to itself through
that address. Every process that resolves an address takes the same step: the `ray start` of each node (here)
and the driver (`keep_on_loopback()`, which the test session calls before it connects); the GCS, raylets and
workers are given the address on their command lines and keep it.
"""

from __future__ import annotations

import sys


def keep_on_loopback() -> None:
    """Make this process's Ray keep 127.0.0.1 as it is given."""
    import ray._private.services as services

    if not callable(getattr(services, "resolve_ip_for_localhost", None)):  # a Ray that resolves elsewhere
        raise RuntimeError("this Ray has no services.resolve_ip_for_localhost: tests/support/ray_loopback.py "
                           "cannot keep its cluster on 127.0.0.1; look for where it resolves node addresses now")
    services.resolve_ip_for_localhost = lambda host: host


if __name__ == "__main__":
    keep_on_loopback()
    from ray.scripts.scripts import main

    sys.argv = ["ray", *sys.argv[1:]]
    main()
