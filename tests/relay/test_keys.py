"""Signature checks (relay/keys.py): PEM, JWK, JWK set, Tink keysets; DER, P1363, Tink prefixes."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from relay.keys import PublicKeyError, load_public_keys
from simulator import webhooks
from tests.relay.helpers import KEY, OTHER_KEY

BODY = b'{"data": {"healthUserId": "1"}}'


def test_a_pem_key_verifies_a_der_signature_of_exactly_the_body():
    keys = load_public_keys(KEY.public_pem())
    assert keys.verify(KEY.sign(BODY), BODY)
    assert not keys.verify(KEY.sign(BODY), BODY + b" ")
    assert not keys.verify(OTHER_KEY.sign(BODY), BODY)


def test_a_jwk_and_a_jwk_set_verify():
    assert load_public_keys(json.dumps(KEY.public_jwk())).verify(KEY.sign(BODY), BODY)
    both = json.dumps({"keys": [OTHER_KEY.public_jwk(), KEY.public_jwk()]})
    assert load_public_keys(both).verify(KEY.sign(BODY), BODY)


def test_a_tink_keyset_wants_the_tink_prefix_with_its_key_id():
    keys = load_public_keys(json.dumps(KEY.tink_keyset()))
    assert keys.verify(KEY.sign(BODY, webhooks.FORMAT_TINK), BODY)
    assert not keys.verify(KEY.sign(BODY), BODY)  # no prefix
    # The right key under another key id.
    renamed = webhooks.SigningKey(KEY.private_key, key_id=KEY.key_id + 1)
    assert not keys.verify(renamed.sign(BODY, webhooks.FORMAT_TINK), BODY)


def test_a_tink_keyset_skips_disabled_keys_and_takes_raw_ones_without_prefix():
    disabled = KEY.tink_keyset()
    disabled["key"][0]["status"] = "DISABLED"
    raw = OTHER_KEY.tink_keyset()
    raw["key"][0]["outputPrefixType"] = "RAW"
    keys = load_public_keys(json.dumps({"primaryKeyId": 7, "key": [*disabled["key"], *raw["key"]]}))
    assert len(keys.keys) == 1
    assert keys.verify(OTHER_KEY.sign(BODY), BODY)
    assert not keys.verify(KEY.sign(BODY, webhooks.FORMAT_TINK), BODY)


def test_an_ieee_p1363_signature_verifies_too():
    r, s = decode_dss_signature(base64.b64decode(KEY.sign(BODY)))
    p1363 = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    assert load_public_keys(KEY.public_pem()).verify(p1363, BODY)


@pytest.mark.parametrize("signature", ["", "not base64!", "QUJD", "A" * 2000])
def test_a_garbled_signature_does_not_verify(signature):
    assert not load_public_keys(KEY.public_pem()).verify(signature, BODY)


def test_urlsafe_base64_without_padding_is_read():
    der = base64.b64decode(KEY.sign(BODY))
    text = base64.urlsafe_b64encode(der).rstrip(b"=").decode()
    assert load_public_keys(KEY.public_pem()).verify(text, BODY)


def pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (pem(rsa.generate_private_key(65537, 2048)), "not an ECDSA P-256 key"),
        (pem(ec.generate_private_key(ec.SECP384R1())), "not an ECDSA P-256 key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a public key"),
        ("hello", "not PEM, a JWK or a Tink JSON keyset"),
        ('{"kty": "RSA"}', "not an EC key on P-256"),
        ('{"primaryKeyId": 1, "key": []}', "no usable public key"),
    ],
)
def test_unusable_keys_are_refused(text, why):
    with pytest.raises(PublicKeyError, match=why):
        load_public_keys(text)


def test_a_tink_key_on_another_curve_is_refused():
    keyset = KEY.tink_keyset()
    material = bytearray(base64.b64decode(keyset["key"][0]["keyData"]["value"]))
    # params = 12 06 | 08 03 10 02 18 02: hash SHA256, curve NIST_P256, encoding DER.
    assert material[:8] == bytes([0x12, 0x06, 0x08, 0x03, 0x10, 0x02, 0x18, 0x02])
    material[5] = 0x03  # NIST_P384
    keyset["key"][0]["keyData"]["value"] = base64.b64encode(bytes(material)).decode()
    with pytest.raises(PublicKeyError, match="not on NIST P-256"):
        load_public_keys(json.dumps(keyset))
