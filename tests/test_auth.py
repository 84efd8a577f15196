"""HTTP Basic parsing and comparison."""

import base64

import pytest
from pydantic import SecretStr
from starlette.requests import Request

from app.auth import basic_credentials, check_basic
from app.exceptions import CredentialsInvalid, CredentialsMissing


def _request(authorization: str | None) -> Request:
    headers = (
        [] if authorization is None else [(b"authorization", authorization.encode())]
    )
    return Request({"type": "http", "headers": headers})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_are_read_from_a_basic_header() -> None:
    assert basic_credentials(_request(_basic("key", "se:cret"))) == ("key", "se:cret")
    assert basic_credentials(_request(None)) is None


@pytest.mark.parametrize("header", ["Bearer abc", "Basic !!!", "Basic", "Basic /w=="])
def test_unreadable_headers_count_as_wrong_credentials(header) -> None:
    with pytest.raises(CredentialsInvalid):
        check_basic(_request(header), SecretStr("key"), SecretStr("secret"), "ingest")


def test_missing_header_is_credentials_missing_with_a_challenge() -> None:
    with pytest.raises(CredentialsMissing) as raised:
        check_basic(_request(None), SecretStr("key"), SecretStr("secret"), "ingest")
    assert raised.value.headers == {"WWW-Authenticate": 'Basic realm="ingest"'}


@pytest.mark.parametrize(
    ("user", "password"), [("key", "wrong"), ("wrong", "secret"), ("", ""), ("key", "")]
)
def test_either_half_wrong_is_refused(user, password) -> None:
    with pytest.raises(CredentialsInvalid):
        check_basic(
            _request(_basic(user, password)), SecretStr("key"), SecretStr("secret"), "x"
        )


def test_right_credentials_pass() -> None:
    check_basic(
        _request(_basic("key", "secret")), SecretStr("key"), SecretStr("secret"), "x"
    )


def test_non_ascii_credentials_are_compared_not_crashed_on() -> None:
    header = "Basic " + base64.b64encode("clé:sécret".encode()).decode()
    check_basic(_request(header), SecretStr("clé"), SecretStr("sécret"), "x")
