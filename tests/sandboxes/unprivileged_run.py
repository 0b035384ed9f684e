"""Run a few jobs through ProcessSandbox as an unprivileged user; print JSON facts.

Started by test_unprivileged_host.py (as root, under setpriv) to check the
laptop path: no per-job uid, no namespaces, but rlimits, deadlines and the
subreaper still hold, and guarantees() says what is missing.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from sandboxes.process import ProcessSandbox
from tests.sandboxes.jobs import make_job

ESCAPER = """
import os, time

def solve():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            print("GRANDCHILD", os.getpid(), flush=True)
            time.sleep(100)
        os._exit(0)
    time.sleep(0.2)
    return os.getuid()
"""

box = ProcessSandbox()
try:
    facts: dict[str, object] = {"host_uid": os.getuid(), "missing": box.guarantees().missing()}
    ok = box.run(make_job(ESCAPER))
    facts["status"] = ok.status.value
    facts["candidate_uid"] = ok.metrics.get("score")
    grandchild = int(ok.artifacts.get("stdout", "GRANDCHILD 0").split()[1])
    facts["grandchild_alive"] = grandchild > 0 and os.path.exists(f"/proc/{grandchild}")
    loop = box.run(make_job("def solve():\n    while True:\n        pass\n", timeout_s=0.5))
    facts["loop_status"] = loop.status.value
    big = box.run(make_job("def solve():\n    return len(bytearray(8 << 30))\n", memory_mb=512))
    facts["big_status"] = big.status.value
finally:
    box.close()
print(json.dumps(facts))
