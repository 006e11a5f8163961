"""Which lists Kubernetes merges by key, as sandbox.kube.schema knows them."""

from __future__ import annotations

import pytest

from sandbox.kube.schema import KEY_DEFAULTS, list_type

DEPLOY_POD = ("spec", "template", "spec")
CRONJOB_POD = ("spec", "jobTemplate", "spec", "template", "spec")


@pytest.mark.parametrize("pod", [("spec",), DEPLOY_POD, CRONJOB_POD])
@pytest.mark.parametrize("field", ["containers", "initContainers", "ephemeralContainers"])
def test_container_lists_are_keyed_by_name_in_every_pod_spec(
    pod: tuple[str, ...], field: str
) -> None:
    assert list_type((*pod, field)) == ("map", ("name",))


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("ports", ("map", ("containerPort", "protocol"))),
        ("env", ("map", ("name",))),
        ("envFrom", ("atomic", ())),
        ("volumeMounts", ("map", ("mountPath",))),
        ("volumeDevices", ("map", ("devicePath",))),
        ("args", ("atomic", ())),
        ("command", ("atomic", ())),
    ],
)
def test_lists_inside_a_container(field: str, expected: tuple[str, tuple[str, ...]]) -> None:
    assert list_type((*DEPLOY_POD, "containers", field)) == expected
    assert list_type(("spec", "initContainers", field)) == expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("volumes", ("map", ("name",))),
        ("imagePullSecrets", ("map", ("name",))),
        ("hostAliases", ("map", ("ip",))),
        ("tolerations", ("atomic", ())),
        ("readinessGates", ("atomic", ())),
    ],
)
def test_lists_of_a_pod_spec(field: str, expected: tuple[str, tuple[str, ...]]) -> None:
    assert list_type(("spec", field)) == expected
    assert list_type((*DEPLOY_POD, field)) == expected
    assert list_type((*CRONJOB_POD, field)) == expected


def test_service_ports_are_keyed_by_port_and_protocol() -> None:
    assert list_type(("spec", "ports")) == ("map", ("port", "protocol"))


def test_metadata_lists() -> None:
    assert list_type(("metadata", "finalizers")) == ("set", ())
    assert list_type(("metadata", "ownerReferences")) == ("map", ("uid",))
    assert list_type(("spec", "template", "metadata", "finalizers")) == ("set", ())


def test_status_conditions_are_keyed_by_type() -> None:
    assert list_type(("status", "conditions")) == ("map", ("type",))


@pytest.mark.parametrize(
    "path",
    [
        ("rules",),  # Role
        ("subjects",),  # RoleBinding
        ("spec", "rules"),  # Ingress
        ("spec", "ingress", "ports"),  # NetworkPolicy ports are not Service ports
        ("spec", "versions"),  # CRD
        ("spec", "something", "volumes"),
        ("data", "env"),
        (),
    ],
)
def test_everything_else_is_atomic(path: tuple[str, ...]) -> None:
    assert list_type(path) == ("atomic", ())


def test_protocol_defaults_to_tcp_for_key_matching() -> None:
    assert KEY_DEFAULTS["protocol"] == "TCP"
