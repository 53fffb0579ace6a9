"""Sphinx configuration for meanshift's documentation.

Built from the installed package (the API pages are its docstrings; the
gallery, docs/gallery/*.py, is executed, the Dask example on a LocalCluster):

    pip install ".[docs,dask]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

or from an editable install (see CONTRIBUTING.md).

Everything builds offline: no intersphinx, no downloaded data.
"""

import os
import re
import sys
from importlib import metadata

import matplotlib

matplotlib.use("Agg")

# the installed package, never the source tree as such (it has no compiled
# modules)
_here = os.path.dirname(os.path.abspath(__file__))
_root = os.path.dirname(_here)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) not in (_here, _root)]

import meanshift  # noqa: E402

# meson-python's editable install (pip install --no-build-isolation -e .) is
# welcome: its loader serves the source tree's Python with the compiled
# modules of its build folder, rebuilt on import
_editable = type(meanshift.__spec__.loader).__module__.endswith("_editable_loader")
if os.path.dirname(os.path.abspath(meanshift.__file__)).startswith(_root + os.sep) \
        and not _editable:
    raise ImportError("the docs need the installed meanshift: pip install '.[docs]'")

if not hasattr(meanshift, "show_versions"):  # until __init__.py exports it
    from meanshift._show_versions import show_versions

    show_versions.__module__ = "meanshift"
    meanshift.show_versions = show_versions



def _escape_shape_names(app, what, name, obj, options, lines):
    """``of shape (n_features_in_,)``: escape the trailing underscore, which
    reStructuredText would read as a link to a target named n_features_in."""
    def escape(match):
        return "shape (" + re.sub(r"(\w)_(?=[,\s]|$)", r"\1\\_", match.group(1)) + ")"

    for i, line in enumerate(lines):
        lines[i] = re.sub(r"shape \(([^)]*)\)", escape, line)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_shape_names, priority=400)


project = "meanshift"
author = "The meanshift developers"
copyright = "2026, The meanshift developers"
release = metadata.version("meanshift")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "gallery/README.rst", "sg_execution_times.rst"]
templates_path = ["_templates"]

# API reference: one page per public name, from the docstrings
autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"members": False, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# the README's sections (user guide, speed) are included as Markdown
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    # every example is executed by the build (not only plot_*.py), so none
    # can go stale; the README's data maker lives outside the gallery
    # (docs/example_csv.py), since it writes files rather than shows anything
    "filename_pattern": r"\.py$",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reference_url": {},
    "show_memory": False,
    "matplotlib_animations": False,
    "plot_gallery": "True",
}

html_theme = "pydata_sphinx_theme"
html_title = f"meanshift {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
html_static_path = []
