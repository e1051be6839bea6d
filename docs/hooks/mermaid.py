"""An mkdocs hook: the diagrams are drawn by a copy of Mermaid in the site, not one from a CDN.

Material for MkDocs draws each ```` ```mermaid ```` block in the reader's browser, and
fetches Mermaid for it from unpkg.com unless the page has defined ``mermaid`` already; so
without the internet the diagrams stay raw text. This hook

- copies ``node_modules/mermaid/dist/mermaid.min.js`` (Mermaid is a devDependency in
  package.json, installed by ``npm ci``) into the site as ``assets/javascripts/mermaid.min.js``;
- adds a ``<script>`` for it at the end of each page that has a diagram, and only those
  (it is 3.5 MB). The theme draws diagrams once the page has loaded, by when the script
  has defined ``mermaid``, so it never asks the CDN.

The build stops, saying what to run, if the file is missing.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

SOURCE = Path("node_modules", "mermaid", "dist", "mermaid.min.js")
TARGET = "assets/javascripts/mermaid.min.js"
DIAGRAM = '<pre class="mermaid">'


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the local Mermaid to the site's files."""
    assert config.config_file_path is not None
    source = Path(config.config_file_path).parent / SOURCE
    if not source.is_file():
        raise PluginError(
            f"{source} is missing: the docs draw their diagrams with it. Run `npm ci` in "
            f"{source.parents[3]} (Mermaid is a devDependency in package.json)."
        )
    files.append(File.generated(config, TARGET, abs_src_path=str(source)))
    return files


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    """Load the local Mermaid on a page that has a diagram, after the theme's own scripts."""
    if DIAGRAM not in output:
        return output
    script = f'<script src="{get_relative_url(TARGET, page.url)}"></script>'
    head, body_end, tail = output.rpartition("</body>")
    if not body_end:
        raise PluginError(f"{page.file.src_uri}: no </body> to put the Mermaid script before")
    return f"{head}{script}\n{body_end}{tail}"
