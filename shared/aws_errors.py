"""AWS and network failures as one line naming the cause and the fix: the only place they are worded.

Every `cloudthrift` command (services/cli_support.py `run`) and `cloudthrift doctor` go through
`explain`, so an operator reads the same sentence for the same problem wherever it shows up. A failure
this module does not recognise returns None and keeps its traceback: that is a bug to report, not an
operating condition to explain.
"""

from __future__ import annotations

from typing import Any

from botocore import exceptions as boto

from shared.config import Settings

# Codes that mean "the queues or the table are not there": bootstrap was not run for this prefix.
MISSING = frozenset(
    {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "ResourceNotFoundException"}
)
BAD_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidToken",
    }
)
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"})
THROTTLED = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ProvisionedThroughputExceededException"}
)


# How aiohttp and the resolver word "this host name does not exist", on Linux and macOS.
_UNRESOLVED = ("name or service not known", "nodename nor servname", "getaddrinfo", "temporary failure")


def where(settings: Settings | None) -> str:
    """`at http://127.0.0.1:5000` or `in us-east-1`: which AWS the command talked to."""
    if settings is None:
        return ""
    return f"at {settings.aws_endpoint_url}" if settings.aws_endpoint_url else f"in {settings.aws_region}"


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


def _network(exc: BaseException, settings: Settings | None) -> str | None:
    kwargs: dict[str, Any] = getattr(exc, "kwargs", {}) or {}
    url = kwargs.get("endpoint_url") or (settings.aws_endpoint_url if settings else None) or "AWS"
    detail = str(kwargs.get("error", "")).lower()
    if isinstance(exc, boto.ConnectTimeoutError):
        cause = "the connection timed out"
    elif isinstance(exc, boto.ReadTimeoutError):
        return f"{url} accepted the connection but did not answer in time: is it overloaded or a proxy?"
    elif isinstance(exc, boto.SSLError):
        return f"TLS to {url} failed ({kwargs.get('error')}): check the certificate or use http:// locally"
    elif isinstance(exc, boto.ProxyConnectionError):
        return f"cannot reach the proxy {kwargs.get('proxy_url')}: check HTTPS_PROXY / HTTP_PROXY"
    elif any(words in detail for words in _UNRESOLVED):
        cause = "the host name does not resolve"
    elif "refused" in detail or "connect call failed" in detail:
        cause = "the connection was refused"
    elif isinstance(exc, boto.ConnectionClosedError):
        cause = "the connection was closed before an answer"
    else:
        cause = str(kwargs.get("error") or exc)
    fix = (
        "is the endpoint running? (`cloudthrift aws-emulator` serves one locally; or unset AWS_ENDPOINT_URL)"
        if settings is not None and settings.aws_endpoint_url
        else "check the network, proxy and AWS_REGION"
    )
    return f"cannot reach {url}: {cause}; {fix}"


def _client_error(exc: BaseException, settings: Settings | None) -> str | None:
    code = error_code(exc)
    if code is None:
        return None
    operation = getattr(exc, "operation_name", "the call")
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))[:200]
    if code.isdigit():  # an HTTP status and no AWS error body: whatever answered is not AWS
        place = settings.aws_endpoint_url if settings and settings.aws_endpoint_url else "AWS"
        return (
            f"{place} answered {operation} with HTTP {code} and no AWS error: "
            "is AWS_ENDPOINT_URL the address of an AWS endpoint (or a proxy in the way)?"
        )
    if code in MISSING:
        prefix = settings.cloudthrift_prefix if settings else "cloudthrift"
        place = f" {where(settings)}" if settings else ""
        return (
            f"the queues or ledger table of prefix {prefix!r} do not exist{place} ({operation}: {code}): "
            "run `cloudthrift bootstrap` first, or fix CLOUDTHRIFT_PREFIX"
        )
    if code in BAD_CREDENTIALS:
        return (
            f"AWS refused the credentials ({code}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
            "AWS_SESSION_TOKEN or AWS_PROFILE, or refresh the session (aws sso login)"
        )
    if code in DENIED:
        return (
            f"AWS denied {operation} ({code}: {message}): grant it to this identity "
            "(the stage's IAM policy in terraform/), `cloudthrift doctor` lists what is missing"
        )
    if code in THROTTLED:
        return f"AWS throttled {operation} after every retry ({code}): try again in a minute"
    return f"AWS {operation} failed ({code}: {message})"


def explain(exc: BaseException, settings: Settings | None = None) -> str | None:
    """One line for a failure an operator can fix, or None for anything else (a bug)."""
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
            "or run where a role provides them"
        )
    if isinstance(exc, boto.ProfileNotFound):
        return f"{exc}: fix AWS_PROFILE or add the profile to ~/.aws/config"
    if isinstance(exc, boto.CredentialRetrievalError | boto.TokenRetrievalError | boto.SSOError):
        return f"AWS credentials could not be loaded ({exc}): refresh them (aws sso login) or fix the profile"
    if isinstance(exc, boto.NoRegionError | boto.InvalidRegionError | boto.UnknownEndpointError):
        return f"{exc}: set AWS_REGION to a region name such as us-east-1"
    if isinstance(exc, boto.ConnectionError | boto.ConnectionClosedError | boto.ReadTimeoutError):
        return _network(exc, settings)
    if isinstance(exc, boto.HTTPClientError):
        return f"cannot talk to {settings.aws_endpoint_url if settings else 'AWS'}: {exc}"
    if isinstance(exc, boto.ClientError):
        return _client_error(exc, settings)
    return None
