"""Just enough of Kubernetes' protobuf encoding for ``kubectl create namespace|configmap|secret``.

kubectl's typed clients send built-in objects as ``application/vnd.kubernetes.protobuf``: the
magic ``k8s\\0`` followed by a ``runtime.Unknown`` message whose ``raw`` field holds the
object. The emulator speaks JSON, so it decodes the few kinds those generators create
(Namespace, ConfigMap, Secret, ServiceAccount) into JSON objects with the field numbers of
Kubernetes' generated.proto files, and refuses every other protobuf body with 415 and a hint.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

from sandbox.kube.errors import StoreError, bad_request

MAGIC = b"k8s\x00"
Field = tuple[int, int, Any]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields(data: bytes) -> Iterator[Field]:
    """(field number, wire type, value) for each field of a message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            value, pos = data[pos : pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8")


def _map(value: bytes, binary: bool = False) -> tuple[str, str]:
    key, item = "", b""
    for number, _, part in fields(value):
        if number == 1:
            key = _text(part)
        elif number == 2:
            item = part
    if binary:
        return key, base64.b64encode(item).decode()
    return key, _text(item)


def _time(value: bytes) -> str | None:
    seconds = 0
    for number, _, part in fields(value):
        if number == 1:
            seconds = part
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)) if seconds else None


_META_TEXT = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
_REF_TEXT = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}


def _owner_ref(value: bytes) -> dict[str, Any]:
    ref: dict[str, Any] = {}
    for number, _, part in fields(value):
        if number in _REF_TEXT:
            ref[_REF_TEXT[number]] = _text(part)
        elif number == 6:
            ref["controller"] = bool(part)
        elif number == 7:
            ref["blockOwnerDeletion"] = bool(part)
    return ref


def object_meta(data: bytes) -> dict[str, Any]:
    """ObjectMeta (k8s.io/apimachinery meta/v1) as JSON."""
    meta: dict[str, Any] = {}
    for number, _, value in fields(data):
        if number in _META_TEXT and value:
            meta[_META_TEXT[number]] = _text(value)
        elif number == 7 and value:
            meta["generation"] = value
        elif number == 8 and (stamp := _time(value)):
            meta["creationTimestamp"] = stamp
        elif number in (11, 12):
            key, item = _map(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item
        elif number == 13:
            meta.setdefault("ownerReferences", []).append(_owner_ref(value))
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(value))
    return meta


def _namespace(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in fields(data):
        if number == 1:
            obj["metadata"] = object_meta(value)
        elif number == 2:
            finalizers = [_text(v) for n, _, v in fields(value) if n == 1]
            if finalizers:
                obj["spec"] = {"finalizers": finalizers}
    return obj


def _configmap(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in fields(data):
        if number == 1:
            obj["metadata"] = object_meta(value)
        elif number in (2, 3):
            key, item = _map(value, binary=number == 3)
            obj.setdefault("data" if number == 2 else "binaryData", {})[key] = item
        elif number == 4:
            obj["immutable"] = bool(value)
    return obj


def _secret(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in fields(data):
        if number == 1:
            obj["metadata"] = object_meta(value)
        elif number in (2, 4):
            key, item = _map(value, binary=number == 2)
            obj.setdefault("data" if number == 2 else "stringData", {})[key] = item
        elif number == 3 and value:
            obj["type"] = _text(value)
        elif number == 5:
            obj["immutable"] = bool(value)
    return obj


def _service_account(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in fields(data):
        if number == 1:
            obj["metadata"] = object_meta(value)
        elif number == 3:
            names = [_text(v) for n, _, v in fields(value) if n == 1]
            obj.setdefault("imagePullSecrets", []).append({"name": names[0] if names else ""})
        elif number == 4:
            obj["automountServiceAccountToken"] = bool(value)
    return obj


DECODERS: dict[tuple[str, str], Callable[[bytes], dict[str, Any]]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ConfigMap"): _configmap,
    ("v1", "Secret"): _secret,
    ("v1", "ServiceAccount"): _service_account,
}


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded object as JSON; 415 for kinds the emulator cannot decode."""
    if not body.startswith(MAGIC):
        raise bad_request("protobuf body without the k8s envelope")
    try:
        api_version = kind = ""
        raw = b""
        for number, _, value in fields(body[len(MAGIC) :]):
            if number == 1:
                for n, _, v in fields(value):
                    if n == 1:
                        api_version = _text(v)
                    elif n == 2:
                        kind = _text(v)
            elif number == 2:
                raw = value
        decoder = DECODERS.get((api_version, kind))
        if decoder is None:
            raise StoreError(
                415,
                "UnsupportedMediaType",
                f"the emulator cannot read {kind or 'this object'} in protobuf; send JSON or "
                "YAML (e.g. kubectl apply -f or kubectl create -f a manifest)",
            )
        obj = decoder(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise bad_request(f"malformed protobuf body: {err}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
