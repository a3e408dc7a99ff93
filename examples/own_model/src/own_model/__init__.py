"""An example of a package that brings its own recurrence to rnnlab (see its README)."""
