"""Entry points. The only code that reads Hydra config objects; torch loads inside the runs."""
