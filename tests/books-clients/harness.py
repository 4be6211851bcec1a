"""Shared by the accounting clients' checks: the sandbox started from the real binary
(CHARGEGUARD_BIN) in a fresh state folder, and named checks that stop at the first failure."""

import os
import re
import subprocess
import tempfile


class Checks:
    def __init__(self):
        self.passed = 0

    def check(self, name, fn):
        try:
            fn()
        except Exception:
            print(f"FAIL {name}", flush=True)
            raise
        self.passed += 1
        print(f"ok   {name}", flush=True)


def start_sandbox(prefix):
    """The running sandbox process and its base URL."""
    state = tempfile.mkdtemp(prefix=prefix)
    process = subprocess.Popen(
        [os.environ["CHARGEGUARD_BIN"], "sandbox", "serve", "--state", state],
        stdout=subprocess.PIPE,
        text=True,
    )
    base = re.match(r"listening on (http://\S+)", process.stdout.readline()).group(1)
    return process, base
