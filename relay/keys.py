"""The public keys webhook notifications are signed with, and checking a signature.

Google signs each notification's body with ECDSA on NIST P-256 and SHA-256
(docs/notifications-relay.md, "Unconfirmed"). `load_public_keys` reads the
key as PEM, a JWK or JWK set, or a Tink JSON keyset; `PublicKeys.verify`
takes the signature header's value (base64 or base64url, padded or not) and
accepts a bare DER or IEEE P1363 signature, or one behind a Tink prefix
(TINK, CRUNCHY, LEGACY or RAW)::

    keys = load_public_keys(open("webhooks_public_keyset.json").read())
    keys.verify(request.headers["X-HEALTHAPI-SIGNATURE"], body)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# A P-256 signature is at most 72 bytes of DER; base64 of a Tink one is about 104 characters.
MAX_SIGNATURE_CHARS = 1024


class PublicKeyError(ValueError):
    """A public key the relay cannot use."""


@dataclasses.dataclass(frozen=True)
class VerifyingKey:
    """One public key and how signatures made with it look.

    Attributes:
        key: the P-256 public key.
        prefix: bytes before the signature proper (Tink: 0x01 or 0x00 and the
            4-byte key id); empty for a bare signature.
        legacy: Tink's LEGACY prefix type, which signs the body plus one zero byte.
        p1363: the signature proper is r||s (IEEE P1363) rather than DER.
    """

    key: ec.EllipticCurvePublicKey
    prefix: bytes = b""
    legacy: bool = False
    p1363: bool = False


class PublicKeys:
    """The keys notifications may be signed with; any one verifying is enough.

    Build with `load_public_keys`, which reads PEM, a JWK (or JWK set) or a
    Tink JSON keyset.
    """

    def __init__(self, keys: Sequence[VerifyingKey]):
        if not keys:
            raise PublicKeyError("no usable public key")
        self.keys = tuple(keys)

    def __repr__(self) -> str:
        return f"PublicKeys({len(self.keys)} P-256 key(s))"

    def verify(self, signature: str, body: bytes) -> bool:
        """True when `signature` (the header value, base64) signs `body`."""
        raw = _b64decode(signature)
        if raw is None:
            return False
        for k in self.keys:
            if not raw.startswith(k.prefix):
                continue
            sig = raw[len(k.prefix) :]
            data = body + b"\x00" if k.legacy else body
            candidates = [sig]
            if len(sig) == 64:  # r||s; DER of P-256 is 8 to 72 bytes, rarely 64
                as_der = encode_dss_signature(
                    int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
                )
                candidates = [as_der, sig] if k.p1363 else [sig, as_der]
            for candidate in candidates:
                try:
                    k.key.verify(candidate, data, ec.ECDSA(hashes.SHA256()))
                    return True
                except (InvalidSignature, ValueError):
                    continue
        return False


def _b64decode(text: str) -> bytes | None:
    text = text.strip()
    if not text or len(text) > MAX_SIGNATURE_CHARS:
        return None
    padded = text + "=" * (-len(text) % 4)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


def _p256(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise PublicKeyError("the public key is not an ECDSA P-256 key")
    return key


def _point(x: int, y: int) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:
        raise PublicKeyError("the key's coordinates are not a point on P-256") from None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise PublicKeyError("the Tink key material is not valid protobuf")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _proto_fields(data: bytes) -> dict[int, list[int | bytes]]:
    """The fields of one protobuf message: number -> values (varints and byte strings)."""
    fields: dict[int, list[int | bytes]] = {}
    i = 0
    while i < len(data):
        tag, i = _varint(data, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            if i + length > len(data):
                raise PublicKeyError("the Tink key material is not valid protobuf")
            value, i = data[i : i + length], i + length
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
            continue
        else:
            raise PublicKeyError("the Tink key material is not valid protobuf")
        fields.setdefault(number, []).append(value)
    return fields


def _one(fields: dict, number: int, kind: type, default=None):
    values = [v for v in fields.get(number, ()) if isinstance(v, kind)]
    return values[-1] if values else default


_TINK_ECDSA = "type.googleapis.com/google.crypto.tink.EcdsaPublicKey"
_TINK_SHA256, _TINK_NIST_P256, _TINK_IEEE_P1363 = 3, 2, 1
_TINK_PREFIX = {"TINK": b"\x01", "CRUNCHY": b"\x00", "LEGACY": b"\x00", "RAW": b""}


def _tink_key(entry: dict) -> VerifyingKey | None:
    """One key of a Tink keyset; None for a key that is not ENABLED."""
    if entry.get("status") != "ENABLED":
        return None
    data = entry.get("keyData") or {}
    if data.get("typeUrl") != _TINK_ECDSA:
        raise PublicKeyError(
            f"Tink key type {str(data.get('typeUrl'))[:80]!r} is not EcdsaPublicKey"
        )
    prefix_type = entry.get("outputPrefixType")
    if prefix_type not in _TINK_PREFIX:
        raise PublicKeyError(f"Tink output prefix type {str(prefix_type)[:20]!r} is unknown")
    try:
        material = base64.b64decode(str(data.get("value", "")), validate=True)
        key_id = int(entry.get("keyId", 0))
    except (binascii.Error, ValueError, TypeError):
        raise PublicKeyError("a Tink key's value or keyId is malformed") from None
    fields = _proto_fields(material)
    params = _proto_fields(_one(fields, 2, bytes, b""))
    if _one(params, 1, int, _TINK_SHA256) != _TINK_SHA256:
        raise PublicKeyError("the Tink key does not hash with SHA-256")
    if _one(params, 2, int, _TINK_NIST_P256) != _TINK_NIST_P256:
        raise PublicKeyError("the Tink key is not on NIST P-256")
    x, y = _one(fields, 3, bytes), _one(fields, 4, bytes)
    if x is None or y is None:
        raise PublicKeyError("the Tink key has no x or y coordinate")
    prefix = _TINK_PREFIX[prefix_type]
    if prefix:
        prefix += key_id.to_bytes(4, "big")
    return VerifyingKey(
        _point(int.from_bytes(x, "big"), int.from_bytes(y, "big")),
        prefix=prefix,
        legacy=prefix_type == "LEGACY",
        p1363=_one(params, 3, int, 0) == _TINK_IEEE_P1363,
    )


def _jwk_key(jwk: dict) -> VerifyingKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise PublicKeyError("the JWK is not an EC key on P-256")

    def coordinate(name: str) -> int:
        text = str(jwk.get(name, ""))
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise PublicKeyError(f"the JWK's {name} is not base64url") from None
        if len(raw) != 32:
            raise PublicKeyError(f"the JWK's {name} is not 32 bytes")
        return int.from_bytes(raw, "big")

    return VerifyingKey(_point(coordinate("x"), coordinate("y")))


def load_public_keys(text: str) -> PublicKeys:
    """Public keys from PEM, a JWK, a JWK set ({"keys": [...]}) or a Tink JSON keyset.

    Raises:
        PublicKeyError: not one of these, or a key that is not ECDSA P-256 with SHA-256.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
            raise PublicKeyError("the PEM text is not a public key") from None
        return PublicKeys([VerifyingKey(_p256(key))])
    try:
        obj = json.loads(text)
    except ValueError:
        raise PublicKeyError("not PEM, a JWK or a Tink JSON keyset") from None
    if not isinstance(obj, dict):
        raise PublicKeyError("not PEM, a JWK or a Tink JSON keyset")
    if "primaryKeyId" in obj or isinstance(obj.get("key"), list):
        keys = [_tink_key(k) for k in obj.get("key") or () if isinstance(k, dict)]
        return PublicKeys([k for k in keys if k is not None])
    if isinstance(obj.get("keys"), list):
        return PublicKeys([_jwk_key(k) for k in obj["keys"] if isinstance(k, dict)])
    if "kty" in obj:
        return PublicKeys([_jwk_key(obj)])
    raise PublicKeyError("not PEM, a JWK or a Tink JSON keyset")
