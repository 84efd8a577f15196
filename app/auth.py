"""HTTP Basic credentials and bearer tokens, compared in constant time."""

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache

from fastapi import Request
from pydantic import SecretStr

from app.exceptions import CredentialsInvalid, CredentialsMissing


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """The (user, password) of an `Authorization: Basic` header, or None if absent."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return ("", "")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    user, _, password = decoded.partition(":")
    return user, password


def check_basic(
    request: Request, key: SecretStr, secret: SecretStr, realm: str
) -> None:
    credentials = basic_credentials(request)
    if credentials is None:
        raise CredentialsMissing("Authorization header is missing", realm=realm)
    # Both comparisons always run, so the time taken says nothing about
    # which half was wrong.
    key_ok = secret_matches(credentials[0], key)
    secret_ok = secret_matches(credentials[1], secret)
    if not (key_ok and secret_ok):
        raise CredentialsInvalid("Credentials are invalid")


def check_bearer(request: Request, token: SecretStr, realm: str) -> None:
    header = request.headers.get("authorization")
    if not header:
        raise CredentialsMissing(
            "Authorization header is missing", realm=realm, scheme="Bearer"
        )
    if not bearer_matches(header, token):
        raise CredentialsInvalid("Credentials are invalid")


def bearer_matches(header: str, token: SecretStr) -> bool:
    """Whether an Authorization header value is `Bearer <token>`."""
    scheme, _, given = header.partition(" ")
    # The comparison runs whatever the scheme, so a wrong scheme takes as
    # long to refuse as a wrong token.
    token_ok = secret_matches(given.strip(), token)
    return scheme.lower() == "bearer" and token_ok


def secret_matches(given: str, expected: SecretStr) -> bool:
    """Whether `given` is the secret, in time that says nothing about either."""
    # Comparing digests, not the values, keeps even the secret's length from
    # showing in the time taken.
    return hmac.compare_digest(_digest(given), _expected_digest(expected))


@lru_cache(maxsize=16)
def _expected_digest(expected: SecretStr) -> bytes:
    # The configured secrets never change: hash each once.
    return _digest(expected.get_secret_value())


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
