"""The Docker sandbox: hardened containers, a warm pool, an image built offline."""
