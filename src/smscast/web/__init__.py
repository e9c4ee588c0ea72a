"""The portal: server-rendered pages over the engine's use cases (see README.md here)."""
