"""The Kubernetes manifests of ``deploy/k8s`` are valid objects and keep the daemon's contracts.

No cluster and no network: the kustomizations are resolved here in Python (only the fields they
use, and any other field is refused, so a new one cannot be silently ignored), each object is
validated strictly against the OpenAPI schemas that ``kubernetes-validate`` ships, for the oldest
and the newest Kubernetes this repository claims, and the ServiceMonitor (a custom resource)
against its CRD's schema vendored in ``deploy/k8s/schemas``. Then the invariants the manifests
exist for: probes on the daemon's health port, a grace period above its stop bound, replicas with
a PodDisruptionBudget, configs that ``config check`` accepts with exactly the files and variables
the pods get, no secret in a ConfigMap, every reference resolvable, every pod under a
NetworkPolicy that opens exactly the ports the configs need.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import tempfile
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from monitor import config as config_module
from monitor.cli import main
from tests.support import ROOT

K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OPERATOR = K8S / "prometheus-operator"
#: The oldest Kubernetes the manifests claim (every minor still supported upstream is newer) and
#: the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
#: What the Python resolver understands of a kustomization; anything else fails the test.
KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "images",
    "configMapGenerator",
    "secretGenerator",
}
CLUSTER_SCOPED = {"Namespace"}
SERVICEMONITOR_SCHEMA = K8S / "schemas" / "servicemonitor-v1.json"

Object = dict[str, Any]


def resolve(directory: Path) -> list[Object]:
    """The objects ``kubectl kustomize directory`` builds, but for the generated names' hash
    suffix (kustomize adds one and rewrites every reference alike, so references resolve the
    same either way). Compared by hand with kubectl 1.32's kustomize 5.5: the same objects."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{directory}: teach resolve() {sorted(unknown)} or drop them"
    objects: list[Object] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            objects += resolve(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for generator in kustomization.get("configMapGenerator", []):
        objects.append(_generated("ConfigMap", directory, generator))
    for generator in kustomization.get("secretGenerator", []):
        objects.append(_generated("Secret", directory, generator))
    namespace = kustomization.get("namespace")
    for obj in objects:
        if namespace and obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace
        for container in _containers(obj):
            for image in kustomization.get("images", []):
                assert set(image) <= {"name", "newName", "newTag"}, f"teach resolve() {image}"
                name, _, _ = container["image"].rpartition(":")
                if name == image["name"]:
                    new_name = image.get("newName", name)
                    container["image"] = f"{new_name}:{image.get('newTag', 'latest')}"
    return objects


def _generated(kind: str, directory: Path, generator: Mapping[str, Any]) -> Object:
    """A ConfigMap or Secret of a generator's files (keyed by file name) and literals."""
    unknown = set(generator) - {"name", "files", "literals"}
    assert not unknown, f"{directory}: teach _generated() {sorted(unknown)} or drop them"
    values: dict[str, str] = {}
    for file in generator.get("files", []):
        values[Path(file).name] = (directory / file).read_text()
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        values[key] = value
    if kind == "Secret":
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": generator["name"]},
            "type": "Opaque",
            "data": data,
        }
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": generator["name"]},
        "data": values,
    }


def _containers(obj: Object) -> list[Object]:
    if obj["kind"] != "Deployment":
        return []
    spec = obj["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _one(objects: list[Object], kind: str, name: str) -> Object:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture(scope="module")
def base() -> list[Object]:
    return resolve(BASE)


@pytest.fixture(scope="module")
def daemon(base: list[Object]) -> Object:
    return _one(base, "Deployment", "driftwatch-daemon")


@pytest.fixture(scope="module")
def dashboard(base: list[Object]) -> Object:
    return _one(base, "Deployment", "driftwatch-dashboard")


# --- schemas --------------------------------------------------------------------------------


def validate(obj: Object) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``obj`` is valid for every Kubernetes version
    of :data:`KUBERNETES_VERSIONS`, unknown fields refused (kubectl's strict field validation);
    the ServiceMonitor against its CRD's schema, made as strict."""
    if obj["apiVersion"] == "monitoring.coreos.com/v1" and obj["kind"] == "ServiceMonitor":
        jsonschema.Draft202012Validator(_servicemonitor_schema()).validate(obj)
        return
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def _servicemonitor_schema() -> Object:
    """The vendored CRD schema with ``additionalProperties: false`` wherever it lists the
    properties of an object: the API server prunes or (strict) refuses unknown fields of a
    custom resource, which the schema alone does not say."""

    def strict(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: strict(v) for k, v in node.items()}
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [strict(v) for v in node]
        return node

    schema = strict(json.loads(SERVICEMONITOR_SCHEMA.read_text()))
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: checked by the server
    return schema


def test_every_object_is_valid_against_the_kubernetes_schemas(base: list[Object]) -> None:
    operator = resolve(OPERATOR)
    assert {o["kind"] for o in base} >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    assert [o["kind"] for o in operator if o not in base] == ["ServiceMonitor"]
    for obj in operator:
        validate(obj)


def _broken(base: list[Object], change: str) -> Object:
    """One object of ``base`` with one mistake of the kinds people make when editing YAML."""
    if change == "servicemonitor field misspelled":
        monitor = _one(resolve(OPERATOR), "ServiceMonitor", "driftwatch-daemon")
        monitor["spec"]["endpoint"] = monitor["spec"].pop("endpoints")
        return monitor
    daemon = copy.deepcopy(_one(base, "Deployment", "driftwatch-daemon"))
    pod = daemon["spec"]["template"]["spec"]
    container = pod["containers"][0]
    if change == "probe port as a list":
        container["livenessProbe"]["httpGet"]["port"] = [9108]
    elif change == "field misspelled":
        pod["terminationGracePeriodSecond"] = pod.pop("terminationGracePeriodSeconds")
    elif change == "field at the wrong level":
        container["runAsNonRoot"] = True
    elif change == "replicas as a string":
        daemon["spec"]["replicas"] = "three"
    return daemon


@pytest.mark.parametrize(
    "change",
    [
        "probe port as a list",
        "field misspelled",
        "field at the wrong level",
        "replicas as a string",
        "servicemonitor field misspelled",
    ],
)
def test_a_broken_manifest_fails_validation(base: list[Object], change: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(_broken(base, change))


# --- the daemon's contracts -----------------------------------------------------------------


def _mounted_config(objects: list[Object], deployment: Object) -> tuple[str, str]:
    """The name of the config file the pod reads (``--config``) and its text, through the
    ConfigMap volume mounted at that file's folder."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    path = Path(command[command.index("--config") + 1])
    (mount,) = [m for m in container["volumeMounts"] if Path(m["mountPath"]) == path.parent]
    volume = _volume(deployment, mount["name"])
    configmap = _one(objects, "ConfigMap", volume["configMap"]["name"])
    items = {i["path"]: i["key"] for i in volume["configMap"].get("items", [])}
    return str(path), configmap["data"][items.get(path.name, path.name)]


def _volume(deployment: Object, name: str) -> Object:
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == name]
    return volume


def _settings(objects: list[Object], deployment: Object) -> config_module.Settings:
    """The config the pod reads, for its values: every file it names is given a stand-in (the
    config test checks which of them the pod really has), its secrets are not looked for."""
    _, text = _mounted_config(objects, deployment)
    with tempfile.TemporaryDirectory() as root:
        return config_module.parse(
            tomllib.loads(_rooted(text, Path(root), _paths(text))), secrets=()
        )


def _rooted(text: str, root: Path, files: Iterable[str]) -> str:
    """A config's ``text`` with every absolute path it names moved under ``root``, where
    ``files`` (absolute paths) are created with a stand-in value: a pod's files, on this host."""
    for file in files:
        (root / file.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / file.lstrip("/")).write_text("stand-in\n")
    rooted = text.replace('"/', f'"{root}/')
    assert sorted(_paths(rooted)) == sorted(str(root / p.lstrip("/")) for p in _paths(text))
    return rooted


def _port(container: Object, port: int | str) -> int:
    """A probe's or Service's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return number


def test_daemon_probes_use_the_health_endpoints_on_the_configured_port(
    base: list[Object], daemon: Object
) -> None:
    runtime = _settings(base, daemon).runtime
    (container,) = daemon["spec"]["template"]["spec"]["containers"]
    paths = {}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert _port(container, get["port"]) == runtime.http_port, probe
        paths[probe] = get["path"]
    assert paths == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert runtime.http_host == "0.0.0.0", "the kubelet probes the pod's IP, not its loopback"
    annotations = daemon["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == runtime.http_port
    assert annotations["prometheus.io/path"] == "/metrics"


def test_dashboard_probes_and_service_use_the_configured_port(
    base: list[Object], dashboard: Object
) -> None:
    settings = _settings(base, dashboard).dashboard
    (container,) = dashboard["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert _port(container, container[probe]["httpGet"]["port"]) == settings.port, probe
    assert settings.host == "0.0.0.0"
    service = _one(base, "Service", "driftwatch-dashboard")
    (port,) = service["spec"]["ports"]
    assert _port(container, port["targetPort"]) == settings.port


def test_grace_period_outlasts_the_daemons_stop_bound(base: list[Object], daemon: Object) -> None:
    bound = _settings(base, daemon).runtime.shutdown_timeout_seconds
    grace = daemon["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= bound + 10, f"SIGKILL after {grace}s would cut a {bound}s drain short"


def test_daemon_replicas_share_one_group_and_a_disruption_budget(
    base: list[Object], daemon: Object
) -> None:
    assert _settings(base, daemon).kafka.group_id
    assert daemon["spec"]["replicas"] >= 2
    assert daemon["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    labels = daemon["spec"]["template"]["metadata"]["labels"]
    (budget,) = [o for o in base if o["kind"] == "PodDisruptionBudget"]
    assert _selects(budget["spec"]["selector"]["matchLabels"], labels)
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("name", ["driftwatch-daemon", "driftwatch-dashboard"])
def test_pods_run_restricted_with_sized_resources(base: list[Object], name: str) -> None:
    deployment = _one(base, "Deployment", name)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for volume in pod["volumes"]:  # secrets readable by the pod's group (fsGroup) only
        if "secret" in volume:
            assert volume["secret"]["defaultMode"] == 0o440, volume["name"]
            assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    for container in _containers(deployment):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        resources = container["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}
        assert "memory" in resources["limits"]
        assert container["image"] == "ghcr.io/driftwatch/driftwatch:0.1.0"


# --- configs and secrets --------------------------------------------------------------------


def _mounted_files(objects: list[Object], deployment: Object) -> set[str]:
    """Every file the pod's Secret volumes put in it."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    files: set[str] = set()
    for mount in container["volumeMounts"]:
        source = _volume(deployment, mount["name"]).get("secret")
        if source is None:
            continue
        secret = _one(objects, "Secret", source["secretName"])
        items = source.get("items") or [{"key": k, "path": k} for k in secret["data"]]
        files |= {f"{mount['mountPath']}/{item['path']}" for item in items}
    return files


def _paths(text: str) -> list[str]:
    """Every absolute path in a TOML document: the files a config names."""

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, Mapping):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)
        elif isinstance(value, str) and value.startswith("/"):
            yield value

    return list(walk(tomllib.loads(text)))


@pytest.mark.parametrize(
    ("name", "sections"),
    [
        ("driftwatch-daemon", config_module.SECRET_SECTIONS),
        ("driftwatch-dashboard", config_module.REDIS_ONLY),
    ],
)
def test_each_pods_config_passes_config_check_with_what_the_pod_mounts(
    base: list[Object],
    name: str,
    sections: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The config loads as the process loads it (the secrets of the sections it uses looked
    for) when exactly the files the pod mounts from Secrets exist, under ``tmp_path`` with
    stand-in values (the manifests' are empty), and the variables it gets from Secrets are set;
    ``driftwatch config check`` accepts the daemon's. A file the process needs but its pod does
    not mount fails here, naming its key."""
    deployment = _one(base, "Deployment", name)
    path, text = _mounted_config(base, deployment)
    mounts = _mounted_files(base, deployment)
    assert set(_paths(text)) >= mounts, "a Secret file is mounted that the config never names"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    for variable in container.get("env", []):
        if "secretKeyRef" in variable.get("valueFrom", {}):
            monkeypatch.setenv(variable["name"], "stand-in")
    rooted = _rooted(text, tmp_path, mounts)
    config_module.parse(tomllib.loads(rooted), secrets=sections)  # raises the first problem
    if sections == config_module.SECRET_SECTIONS:  # the dashboard's process checks Redis only
        config_file = tmp_path / path.lstrip("/")
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(rooted)
        result = CliRunner().invoke(main, ["config", "check", str(config_file)])
        assert result.exit_code == 0, result.output


def test_dashboard_config_is_the_daemons_but_for_its_read_only_redis_user(
    base: list[Object], daemon: Object, dashboard: Object
) -> None:
    daemon_raw = tomllib.loads(_mounted_config(base, daemon)[1])
    dashboard_raw = tomllib.loads(_mounted_config(base, dashboard)[1])
    daemon_url = urlsplit(daemon_raw["redis"].pop("url"))
    dashboard_url = urlsplit(dashboard_raw["redis"].pop("url"))
    assert dashboard_raw == daemon_raw
    assert (daemon_url.username, dashboard_url.username) == ("driftwatch", "driftwatch-dashboard")
    assert daemon_url._replace(netloc="") == dashboard_url._replace(netloc="")
    assert daemon_url.hostname == dashboard_url.hostname
    assert daemon_url.port == dashboard_url.port


#: Keys whose values would be secrets if written in a file; the config must name their source.
_SECRET_KEY = re.compile(r"password|secret|token|routing_key|apprise_urls", re.IGNORECASE)


def _secret_values(raw: Any, key: str = "") -> Iterator[str]:
    """Keys of a TOML document holding a value where a secret's source (``*_env``, ``*_file``,
    ``{ env = … }`` / ``{ file = … }``) belongs."""
    if isinstance(raw, Mapping):
        if key and set(raw) <= {"env", "file"} and raw:
            return
        for k, v in raw.items():
            yield from _secret_values(v, f"{key}.{k}" if key else k)
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            yield from _secret_values(v, f"{key}[{i}]")
    elif _SECRET_KEY.search(key.rsplit(".", 1)[-1]) and not re.search(r"_(env|file)$", key):
        yield key


def test_no_secret_is_written_in_a_configmap(base: list[Object]) -> None:
    configmaps = [o for o in base if o["kind"] == "ConfigMap"]
    assert configmaps
    for configmap in configmaps:
        for name, text in configmap["data"].items():
            raw = tomllib.loads(text)
            assert list(_secret_values(raw)) == [], f"{name} holds a secret's value"
            assert "whsec_" not in text
            assert not re.search(r"://[^/\s\"]*:[^/\s\"]*@", text), f"{name}: password in a URL"
    assert list(_secret_values({"redis": {"password": "hunter2"}})) == ["redis.password"]


def test_secrets_are_empty_in_the_base(base: list[Object]) -> None:
    """Nothing may start with a password that is in this repository: the base's secrets are
    empty, to be replaced in an overlay (an empty one is refused at start-up)."""
    secrets = [o for o in base if o["kind"] == "Secret"]
    assert secrets
    for secret in secrets:
        assert set(secret["data"].values()) == {""}, secret["metadata"]["name"]


def test_every_reference_resolves_within_the_kustomization(base: list[Object]) -> None:
    names = {(o["kind"], o["metadata"]["name"]): o for o in base}
    for deployment in (o for o in base if o["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert _selects(
            deployment["spec"]["selector"]["matchLabels"],
            deployment["spec"]["template"]["metadata"]["labels"],
        )
        for volume in pod["volumes"]:
            for kind, source, field in (
                ("Secret", "secret", "secretName"),
                ("ConfigMap", "configMap", "name"),
            ):
                if source in volume:
                    target = names[(kind, volume[source][field])]
                    for item in volume[source].get("items", []):
                        assert item["key"] in target["data"], (volume["name"], item)
        for container in _containers(deployment):
            mounted = {m["name"] for m in container["volumeMounts"]}
            assert mounted <= {v["name"] for v in pod["volumes"]}
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in names[("Secret", ref["name"])]["data"], variable
    for service in (o for o in base if o["kind"] == "Service"):
        pods = [
            d
            for d in base
            if d["kind"] == "Deployment"
            and _selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(pods) == 1, service["metadata"]["name"]
        (container,) = pods[0]["spec"]["template"]["spec"]["containers"]
        for port in service["spec"]["ports"]:
            _port(container, port["targetPort"])  # a name no container port has fails here


def test_servicemonitor_scrapes_the_daemons_metrics_port() -> None:
    operator = resolve(OPERATOR)
    monitor = _one(operator, "ServiceMonitor", "driftwatch-daemon")
    services = [
        s
        for s in operator
        if s["kind"] == "Service"
        and _selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
    ]
    assert [s["metadata"]["name"] for s in services] == ["driftwatch-daemon"]
    (service,) = services
    assert service["spec"]["publishNotReadyAddresses"] is True, "a paused daemon's metrics matter"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


# --- network policies -----------------------------------------------------------------------


def _policies(base: list[Object], labels: Mapping[str, str]) -> list[Object]:
    return [
        o
        for o in base
        if o["kind"] == "NetworkPolicy"
        and _selects(o["spec"]["podSelector"].get("matchLabels", {}), labels)
    ]


def _allowed(policies: list[Object], direction: str, container: Object) -> set[tuple[int, str]]:
    """(port, protocol) pairs the policies allow in ``direction`` (``ingress``, ``egress``)."""
    return {
        (_port(container, port["port"]), port.get("protocol", "TCP"))
        for policy in policies
        for rule in policy["spec"].get(direction, [])
        for port in rule.get("ports", [])
    }


def test_every_pod_is_isolated_by_a_default_deny(base: list[Object]) -> None:
    deny = _one(base, "NetworkPolicy", "default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    for deployment in (o for o in base if o["kind"] == "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        own = [p for p in _policies(base, labels) if p is not deny]
        assert own, f"no NetworkPolicy of its own selects {deployment['metadata']['name']}"
        for policy in own:  # every rule names its ports: nothing is opened wholesale
            for direction in ("ingress", "egress"):
                assert all(rule.get("ports") for rule in policy["spec"].get(direction, []))


def test_daemon_network_policy_opens_what_its_config_needs_and_no_more(
    base: list[Object], daemon: Object
) -> None:
    settings = _settings(base, daemon)
    (container,) = daemon["spec"]["template"]["spec"]["containers"]
    policies = _policies(base, daemon["spec"]["template"]["metadata"]["labels"])
    kafka = {int(server.rsplit(":", 1)[1]) for server in settings.kafka.bootstrap_servers}
    redis_port = urlsplit(settings.redis.url).port or 6379
    needed = {(53, "UDP"), (53, "TCP"), (redis_port, "TCP"), *((p, "TCP") for p in kafka)}
    if settings.alerting.enabled or settings.retraining.enabled:
        needed.add((443, "TCP"))
    assert _allowed(policies, "egress", container) == needed
    assert _allowed(policies, "ingress", container) == {(settings.runtime.http_port, "TCP")}
    (rule,) = [r for p in policies for r in p["spec"].get("ingress", [])]
    (peer,) = rule["from"]
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }


def test_dashboard_network_policy_opens_redis_and_its_port_only(
    base: list[Object], dashboard: Object
) -> None:
    settings = _settings(base, dashboard)
    (container,) = dashboard["spec"]["template"]["spec"]["containers"]
    policies = _policies(base, dashboard["spec"]["template"]["metadata"]["labels"])
    redis_port = urlsplit(settings.redis.url).port or 6379
    assert _allowed(policies, "egress", container) == {
        (53, "UDP"),
        (53, "TCP"),
        (redis_port, "TCP"),
    }
    assert _allowed(policies, "ingress", container) == {(settings.dashboard.port, "TCP")}
