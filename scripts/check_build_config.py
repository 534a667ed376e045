"""Print _config.yml with notebook execution turned off, for `make test`'s strict build.

The strict build checks the book's structure (every page in the toc, every reference
resolving) without running notebooks: nbval has already run them.
"""

from pathlib import Path

import yaml

config = yaml.safe_load((Path(__file__).resolve().parent.parent / "_config.yml").read_text())
config.setdefault("execute", {})["execute_notebooks"] = "off"
print(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
