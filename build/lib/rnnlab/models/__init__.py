"""Plain torch modules: no Lightning, no Hydra. One file per model family."""
