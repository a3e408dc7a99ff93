"""Config groups of installed packages, searched after rnnlab's own.

A package that registers classes for rnnlab (registry.py) registers its config directory in
the entry point group ``rnnlab.conf``; Hydra then finds its options (``model=<theirs>``) as
it finds rnnlab's, in rnnlab's apps only. Hydra loads search-path plugins only from the
``hydra_plugins`` package, hence this module's home.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from rnnlab import CONFIG_DIR, registry


class RegisteredConfigs(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        if not any(element.path == str(CONFIG_DIR) for element in search_path.get_path()):
            return  # another Hydra app in the same environment
        for path in registry.config_dirs():
            search_path.append(provider="rnnlab-registry", path=f"file://{path}")
