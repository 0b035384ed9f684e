"""The Docker sandbox: hardened containers (``container``), a warm pool of them
(``sandbox``), the reaper of orphaned containers (``reaper``), GPU assignment
(``gpu``) and the image, built from a registry or offline (``image``,
``build_offline``). May import ``sandboxes`` and ``evaluators`` only."""
