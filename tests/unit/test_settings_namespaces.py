"""``controller.namespaces``: the namespaces kajitori is limited to, validated as a list of
distinct DNS-1123 labels; and the configuration check that keeps every Application inside
them (destination namespace, no CreateNamespace=true)."""

from __future__ import annotations

import textwrap

import pytest

from reconciler.cluster_scope import NamespaceScope
from reconciler.config import parse_config
from reconciler.errors import ConfigError
from reconciler.settings import ControllerSettings
from tests.unit.config_helpers import app_doc

HEADER = "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\n"


def controller_of(body: str) -> ControllerSettings:
    return parse_config(HEADER + textwrap.dedent(body), "config.yaml").settings.controller


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.yaml")
    return info.value.problems


def settings_doc(namespaces: str) -> str:
    return HEADER + f"controller:\n  namespaces: {namespaces}\n"


def test_default_is_cluster_wide() -> None:
    assert controller_of("controller: {workers: 2}\n").namespaces == ()
    assert controller_of("controller: {namespaces: []}\n").namespaces == ()
    assert controller_of("controller: {namespaces: null}\n").namespaces == ()


def test_a_list_of_namespaces_keeps_its_order() -> None:
    controller = controller_of(
        """\
        controller:
          namespaces: [shop, payments-eu-1, "0ld"]
        """
    )
    assert controller.namespaces == ("shop", "payments-eu-1", "0ld")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "shop",
            "config.yaml: document 1 (Settings): controller.namespaces: expected a list of "
            "namespace names, got a string (line 4)",
        ),
        (
            "{shop: true}",
            "controller.namespaces: expected a list of namespace names, got a mapping",
        ),
        ("[shop, 12]", "controller.namespaces[1]: expected a namespace name, got a number"),
        ("[Shop]", "controller.namespaces[0]: 'Shop' is not a valid namespace: a namespace"),
        ("[shop_eu]", "controller.namespaces[0]: 'shop_eu' is not a valid namespace"),
        ("[shop-]", "controller.namespaces[0]: 'shop-' is not a valid namespace"),
        ('[""]', "controller.namespaces[0]: '' is not a valid namespace"),
        ("[a.b]", "controller.namespaces[0]: 'a.b' is not a valid namespace"),
        (f"[{'a' * 64}]", f"controller.namespaces[0]: '{'a' * 64}' is not a valid namespace"),
        ("[shop, web, shop]", "controller.namespaces[2]: namespace 'shop' is listed twice"),
    ],
)
def test_bad_namespaces_are_named(value: str, expected: str) -> None:
    (problem,) = problems_of(settings_doc(value))
    assert expected in problem
    assert problem.startswith("config.yaml: document 1 (Settings): controller.namespaces")


def test_a_63_character_namespace_is_valid() -> None:
    name = "a" * 63
    assert controller_of(f"controller: {{namespaces: [{name}]}}\n").namespaces == (name,)


def test_every_bad_entry_is_reported_at_once() -> None:
    problems = problems_of(settings_doc("[Shop, 3, shop, shop]"))
    assert [p.split("controller.")[1].split(":")[0] for p in problems] == [
        "namespaces[0]",
        "namespaces[1]",
        "namespaces[3]",
    ]


# -- the check of the applications ---------------------------------------------------------

SPEC = """\
source: {{repoURL: "https://github.com/example/apps.git", path: shop}}
destination: {{server: "https://kubernetes.default.svc", namespace: {namespace}}}
{extra}"""


def config(namespaces: str, namespace: str = "shop", extra: str = "") -> str:
    app = app_doc(SPEC.format(namespace=namespace, extra=extra), name="shop")
    return "---\n".join([app, settings_doc(namespaces)])


def test_an_application_inside_the_namespaces_is_accepted() -> None:
    loaded = parse_config(config("[shop, web]"), "config.yaml")
    assert loaded.settings.controller.namespaces == ("shop", "web")
    assert list(loaded.applications) == ["shop"]


def test_an_application_deploying_elsewhere_is_refused_naming_app_and_field() -> None:
    (problem,) = problems_of(config("[shop, web]", namespace="payments"))
    assert problem == (
        "config.yaml: document 1 (Application shop): spec.destination.namespace: application "
        "'shop' deploys into namespace 'payments', which is not in controller.namespaces "
        "(shop, web): kajitori may not act there (line 7)"
    )


def test_without_namespaces_any_destination_is_accepted() -> None:
    loaded = parse_config(config("[]", namespace="payments"), "config.yaml")
    assert loaded.applications["shop"].spec.destination.namespace == "payments"


def test_an_application_without_a_destination_namespace_is_left_to_its_manifests() -> None:
    text = config("[shop]").replace(", namespace: shop", "")
    assert parse_config(text, "config.yaml").applications["shop"].spec.destination.namespace == ""


def test_create_namespace_is_refused_within_namespaces() -> None:
    extra = "syncPolicy: {syncOptions: [CreateNamespace=true]}\n"
    (problem,) = problems_of(config("[shop]", extra=extra))
    assert "(Application shop): spec.syncPolicy.syncOptions: application 'shop'" in problem
    assert "CreateNamespace=true creates a Namespace, which is cluster-scoped" in problem
    assert parse_config(config("[]", extra=extra), "config.yaml").applications


# -- the scope itself ----------------------------------------------------------------------


def test_scope_allows_only_its_namespaces() -> None:
    scope = NamespaceScope.of(["shop", "web", "shop"])
    assert scope.namespaces == ("shop", "web")
    assert scope.allows("shop") and not scope.allows("payments") and not scope.allows("")
    assert scope.listing() == ("shop", "web")
    wide = NamespaceScope()
    assert wide.cluster_wide and wide.allows("") and wide.allows("anything")
    assert wide.listing() == (None,)


def test_refusals_name_the_object_and_the_setting() -> None:
    scope = NamespaceScope.of(["shop"])
    error = scope.refuse("apply", "ConfigMap/payments/settings", "payments")
    assert (error.code, error.reason) == (403, "OutOfScope")
    assert str(error) == (
        "apply ConfigMap/payments/settings: namespace payments is not in controller.namespaces "
        "(shop): kajitori may not read or write there"
    )
    assert "is cluster-scoped" in str(scope.refuse("get", "Namespace//shop", ""))
