"""Where a candidate runs: the Sandbox interface and its backends.

Owns the messages between an executor and a sandbox and the ``Sandbox``
protocol with its ``guarantees()`` (``job``), choosing a backend from the
``[sandbox]`` table (``factory``), the process backend (``process``, with its
fork server, uid pool and file helpers), the Docker backend (``docker/``) and
the host-side checks of what a sandbox sends back (``envelope``).

May use ``evaluators`` (to ship and start the harness) but never ``evolve``: a
sandbox knows jobs and results, not databases or LLMs.
"""
