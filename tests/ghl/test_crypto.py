"""Tokens encrypted at rest and the signed OAuth state."""

from __future__ import annotations

import pytest

from ghl_app.crypto import DecryptionError, SignatureError, Signer, TokenCipher

SECRET = "a-long-app-secret-for-tests-0001"


def test_tokens_round_trip_and_the_ciphertext_does_not_contain_the_token() -> None:
    cipher = TokenCipher(SECRET)
    encrypted = cipher.encrypt("at-secret-token")
    assert "at-secret-token" not in encrypted
    assert cipher.decrypt(encrypted) == "at-secret-token"


def test_tokens_encrypted_under_another_app_secret_do_not_decrypt() -> None:
    encrypted = TokenCipher(SECRET).encrypt("at-1")
    with pytest.raises(DecryptionError):
        TokenCipher(SECRET + "x").decrypt(encrypted)


def test_signed_state_verifies_and_rejects_tampering_expiry_and_other_purposes() -> None:
    signer = Signer(SECRET, "oauth-state")
    token = signer.sign({"n": "abc"}, 60, now=1000.0)
    assert signer.verify(token, now=1030.0) == {"n": "abc"}
    with pytest.raises(SignatureError, match="expired"):
        signer.verify(token, now=1061.0)
    body, mac = token.split(".")
    with pytest.raises(SignatureError, match="bad signature"):
        signer.verify(body[:-2] + "AA." + mac, now=1030.0)
    with pytest.raises(SignatureError):
        Signer(SECRET, "page-token").verify(token, now=1030.0)
    with pytest.raises(SignatureError):
        signer.verify("no-dot-here")
