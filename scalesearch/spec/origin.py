"""A search spec from wherever a caller holds it: a YAML file path, a Python mapping or a loaded `SearchSpec`, with
the text a study stores beside it (what `load_spec`, `run` and `resume` accept)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from scalesearch.errors import InputError

if TYPE_CHECKING:
    from scalesearch.spec import SearchSpec

__all__ = ["MAPPING_FILE", "SpecSource", "spec_source"]

MAPPING_FILE = "<mapping>"
"""The file name a spec given as a Python mapping reports in its errors (they name the field path, no line)."""

SpecSource = Union[str, "os.PathLike[str]", Mapping[str, Any], "SearchSpec"]


def spec_source(source: SpecSource) -> tuple[SearchSpec, str, str | None]:
    """(spec, its text as stored with a study, its file or None) of a path, a mapping or a loaded SearchSpec."""
    from scalesearch.spec import SearchSpec, SpecError, format_spec, parse_spec
    from scalesearch.spec import load_spec as load_file

    if isinstance(source, SearchSpec):
        return source, format_spec(source), None
    if isinstance(source, Mapping):
        import yaml

        try:
            text = yaml.safe_dump(dict(source), sort_keys=False, allow_unicode=True)
        except yaml.YAMLError as e:
            raise InputError(f"{MAPPING_FILE}: a spec mapping holds only YAML data (str, numbers, bools, None, "
                             f"lists and mappings of them); {' '.join(str(e).split())[:200]}") from None
        try:
            return parse_spec(text, MAPPING_FILE), text, None
        except SpecError as e:  # the lines are those of the YAML written here: the field path alone places it
            e.line = e.col = 0
            e.args = (str(e),)
            raise

    if isinstance(source, (str, os.PathLike)):
        from scalesearch.util.files import read_text

        path = os.fspath(source)
        if isinstance(path, str) and "\n" in path:  # YAML text where a path was expected: say so, not "file name"
            raise InputError(f"a spec given as a string is a file path, and this one holds {len(path.splitlines())} "
                             "lines of text; for YAML text pass yaml.safe_load(text) (a mapping) or use "
                             "scalesearch.spec.parse_spec(text, name)")
        spec = load_file(path)
        return spec, read_text(path, what="spec file"), path
    raise InputError(f"a spec is a YAML file path, a mapping or a SearchSpec; got {type(source).__name__}")
