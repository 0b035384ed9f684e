"""Code that runs next to the candidate, inside the sandbox.

Standard library only: this package is copied into every sandbox (process or
container), so it must not import anything from ``evolve`` or ``sandboxes`` or
any third-party package.
"""
