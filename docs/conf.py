"""Sphinx configuration: the API reference from the numpydoc docstrings, a gallery of the
runnable examples in examples/ (executed at build time, their plots kept), and the guides.
Built in CI with warnings as errors: python -m sphinx -W -b html docs docs/_build/html"""

project = "mixedfit"
author = "the mixedfit developers"
copyright = "2026, the mixedfit developers"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc", "sphinx_gallery.gen_gallery"]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
exclude_patterns = ["_build", "examples"]  # the gallery sources; their pages are generated into auto_examples
html_theme = "alabaster"
html_static_path: list[str] = []

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}
