"""Helpers shared by the configuration tests."""

from __future__ import annotations

import textwrap

import pytest

from reconciler.config import parse_config
from reconciler.errors import ConfigError

APP_HEADER = "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"


def problems(text: str, path: str = "apps.yaml") -> list[str]:
    """The problems parse_config reports for ``text`` (failing the test if there are none)."""
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), path)
    assert info.value.problems, "ConfigError without problems"
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def app_doc(spec: str, name: str = "guestbook") -> str:
    return APP_HEADER + f"metadata:\n  name: {name}\nspec:\n" + textwrap.indent(spec, "  ")


MINIMAL_SPEC = """\
source: {repoURL: "https://github.com/example/apps.git", path: guestbook}
destination: {server: "https://kubernetes.default.svc", namespace: guestbook}
"""
