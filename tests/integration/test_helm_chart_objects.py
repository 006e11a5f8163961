"""The objects the chart renders, as an operator reads them: one restricted pod with its
volumes, probes and checksums; RBAC cluster-wide or per namespace; the Secret or an existing
one; the optional Ingress and ServiceMonitor wired to the Service."""

from __future__ import annotations

from tests.integration.helm_chart_helpers import (
    NAMESPACE,
    VARIANTS,
    Obj,
    container,
    kinds,
    merged,
    notes,
    objects,
    only,
    pod_annotations,
    pod_spec,
)

READ = ["get", "list", "watch"]


def test_the_default_deployment_runs_one_restricted_pod() -> None:
    rendered = objects()
    deployment = only(rendered, "Deployment")
    spec = pod_spec(rendered)
    main = container(rendered)

    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert main["image"] == "kajitori:0.1.0"
    assert main["args"] == [
        "run",
        "--config",
        "/etc/kajitori/config.yaml",
        "--in-cluster",
        "--port",
        "8080",
    ]
    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["resources"]["limits"]["memory"] == "1Gi"
    # The Pod Security Standards' "restricted" profile, pod and container.
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = main["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not any("hostPath" in volume for volume in spec["volumes"])
    assert spec["serviceAccountName"] == only(rendered, "ServiceAccount")["metadata"]["name"]


def test_every_writable_path_is_a_volume() -> None:
    rendered = objects()
    volumes = {volume["name"]: volume for volume in pod_spec(rendered)["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container(rendered)["volumeMounts"]}
    env = {item["name"]: item.get("value") for item in container(rendered)["env"]}

    assert set(mounts) == {
        "/etc/kajitori",
        "/var/lib/kajitori",
        "/var/cache/kajitori",
        "/home/kajitori",
        "/tmp",
    }
    assert mounts["/etc/kajitori"]["readOnly"] is True
    assert volumes[mounts["/etc/kajitori"]["name"]]["configMap"]["name"] == "kajitori"
    state = volumes[mounts["/var/lib/kajitori"]["name"]]
    assert (
        state["persistentVolumeClaim"]["claimName"]
        == only(rendered, "PersistentVolumeClaim")["metadata"]["name"]
    )
    for path in ("/var/cache/kajitori", "/home/kajitori", "/tmp"):
        assert "emptyDir" in volumes[mounts[path]["name"]], path
    assert env["HOME"] == "/home/kajitori" and env["TMPDIR"] == "/tmp"


def test_without_persistence_the_state_is_an_emptydir_and_notes_warn() -> None:
    values = VARIANTS["emptydir"]
    rendered = objects(values)
    volumes = {volume["name"]: volume for volume in pod_spec(rendered)["volumes"]}

    assert "PersistentVolumeClaim" not in kinds(rendered)
    assert volumes["state"] == {"name": "state", "emptyDir": {"sizeLimit": "1Gi"}}
    assert "WARNING: persistence is off" in notes(values)
    assert "persistence is off" not in notes()


def test_an_existing_claim_is_used_instead_of_a_new_one() -> None:
    rendered = objects({"persistence": {"existingClaim": "kajitori-data"}})
    volumes = {volume["name"]: volume for volume in pod_spec(rendered)["volumes"]}

    assert "PersistentVolumeClaim" not in kinds(rendered)
    assert volumes["state"]["persistentVolumeClaim"] == {"claimName": "kajitori-data"}


def test_checksums_roll_the_pod_when_config_or_secret_change() -> None:
    before = pod_annotations(objects())
    new_config = pod_annotations(objects({"settings": {"controller": {"workers": 8}}}))
    new_secret = pod_annotations(objects({"secretEnv": {"GITHUB_TOKEN": "ghp_x"}}))

    assert new_config["checksum/config"] != before["checksum/config"]
    assert new_config["checksum/secret"] == before["checksum/secret"]
    assert new_secret["checksum/secret"] != before["checksum/secret"]
    assert new_secret["checksum/config"] == before["checksum/config"]


def test_an_existing_secret_replaces_the_charts_secret() -> None:
    rendered = objects(VARIANTS["existing-secret"])

    assert "Secret" not in kinds(rendered)
    assert container(rendered)["envFrom"] == [{"secretRef": {"name": "kajitori-tokens"}}]
    assert "checksum/secret" not in pod_annotations(rendered)
    assert "checksum/config" in pod_annotations(rendered)


def test_the_secret_holds_only_the_values_that_are_set() -> None:
    rendered = objects({"secretEnv": {"SLACK_BOT_TOKEN": "xoxb-1", "GIT_PASSWORD": "pw"}})
    secret = only(rendered, "Secret")

    assert secret["type"] == "Opaque"
    assert secret["data"] == {"SLACK_BOT_TOKEN": "eG94Yi0x", "GIT_PASSWORD": "cHc="}
    assert container(rendered)["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    # Defaults only: the Secret exists, empty, so that envFrom always resolves.
    assert "data" not in only(objects(), "Secret")


def test_custom_image_reference() -> None:
    tagged = container(objects({"image": {"repository": "r.example.com/k", "tag": "1.2"}}))
    digest = "sha256:" + "a" * 64
    pinned = container(objects({"image": {"tag": "1.2", "digest": digest}}))

    assert tagged["image"] == "r.example.com/k:1.2"
    assert pinned["image"] == f"kajitori@{digest}"


def test_rbac_is_cluster_wide_by_default() -> None:
    rendered = objects()
    role = only(rendered, "ClusterRole")
    binding = only(rendered, "ClusterRoleBinding")

    assert "Role" not in kinds(rendered) and "RoleBinding" not in kinds(rendered)
    assert role["rules"][0] == {"apiGroups": ["*"], "resources": ["*"], "verbs": READ}
    writes = role["rules"][1:]
    assert all(rule["verbs"] == ["create", "update", "patch", "delete"] for rule in writes)
    written = {(group, res) for r in writes for group in r["apiGroups"] for res in r["resources"]}
    assert {("apps", "deployments"), ("batch", "jobs"), ("", "namespaces")} <= written
    # least privilege: kajitori cannot grant itself more, nor touch CRDs, by default
    assert not any(group == "rbac.authorization.k8s.io" for group, _ in written)
    assert not any(group == "apiextensions.k8s.io" for group, _ in written)
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kajitori", "namespace": NAMESPACE}
    ]


def test_rbac_for_a_list_of_namespaces_is_one_role_each() -> None:
    extra = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["patch"]}
    values = merged(VARIANTS["namespaced-rbac"], {"rbac": {"extraRules": [extra]}})
    rendered = objects(values)
    roles = [obj for obj in rendered if obj["kind"] == "Role"]
    bindings = [obj for obj in rendered if obj["kind"] == "RoleBinding"]

    assert "ClusterRole" not in kinds(rendered)
    assert "ClusterRoleBinding" not in kinds(rendered)
    assert [r["metadata"]["namespace"] for r in roles] == ["team-a", "team-b"]  # deduplicated
    assert [b["metadata"]["namespace"] for b in bindings] == ["team-a", "team-b"]
    assert all(role["rules"][-1] == extra for role in roles)
    assert all(b["subjects"][0]["namespace"] == NAMESPACE for b in bindings)


def test_rbac_can_be_left_to_the_operator() -> None:
    rendered = objects(
        {"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "ops-made"}}
    )

    assert not {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "ServiceAccount"} & set(
        kinds(rendered)
    )
    assert pod_spec(rendered)["serviceAccountName"] == "ops-made"


def test_ingress_routes_the_public_endpoints_to_the_service() -> None:
    rendered = objects(VARIANTS["ingress"])
    ingress = only(rendered, "Ingress")
    service = only(rendered, "Service")
    (rule,) = ingress["spec"]["rules"]

    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"secretName": "kajitori-tls", "hosts": ["kajitori.example.com"]}
    ]
    assert rule["host"] == "kajitori.example.com"
    assert [p["path"] for p in rule["http"]["paths"]] == ["/api/webhook/github", "/slack/events"]
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for path in rule["http"]["paths"]:
        backend = path["backend"]["service"]
        assert backend["name"] == service["metadata"]["name"]
        assert backend["port"]["name"] in port_names
    assert "Ingress" not in kinds(objects())


def test_servicemonitor_scrapes_the_services_metrics_port() -> None:
    rendered = objects(VARIANTS["servicemonitor"])
    monitor = only(rendered, "ServiceMonitor")
    service = only(rendered, "Service")
    spec: Obj = monitor["spec"]

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert "ServiceMonitor" not in kinds(objects())


def test_service_selects_the_pod() -> None:
    rendered = objects()
    service = only(rendered, "Service")
    pod_labels = only(rendered, "Deployment")["spec"]["template"]["metadata"]["labels"]

    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
