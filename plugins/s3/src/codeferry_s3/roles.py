"""Assuming an IAM role through STS, as ``prefect-aws``'s ``AwsCredentials`` does.

The role is asked for with the credentials of the block (its keys, its profile, or the standard
AWS chain when it has neither), at STS's endpoint as botocore finds it (``AWS_ENDPOINT_URL_STS``
or ``AWS_ENDPOINT_URL``, the ``sts`` section of ``~/.aws/config``, else AWS's, in the block's
region, else the configured one, else ``us-east-1``). Its temporary
credentials are then what the bucket is read with, for the one pull or push they are asked for.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from codeferry.errors import CodeferryError

if TYPE_CHECKING:
    from codeferry_s3.credentials import AwsCredentials

__all__ = ["assumed_role_options"]


def assumed_role_options(credentials: AwsCredentials) -> dict[str, Any]:
    """``s3fs.S3FileSystem`` options for the role ``credentials.assume_role_arn``.

    :returns: the role's temporary ``key``, ``secret`` and ``token`` (remembered as secrets).
    :raises CodeferryError: when STS refuses, or cannot be reached, naming the role and why.
    """
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from codeferry.secrets import mask, remember
    from codeferry.timeouts import network_timeouts

    role = credentials.assume_role_arn
    assert role is not None
    secret, token = credentials.aws_secret_access_key, credentials.aws_session_token
    timeouts = network_timeouts()
    parameters: dict[str, Any] = {
        "RoleArn": role,
        "RoleSessionName": f"codeferry-session-{uuid.uuid4().hex[:8]}",
        **credentials.assume_role_kwargs.given(),
    }
    try:
        session = botocore.session.Session(profile=credentials.profile_name)
        # STS answers in every region; with none configured at all, its first one (as the AWS
        # CLI's global endpoint did) rather than botocore's "You must specify a region".
        region = credentials.region_name or session.get_config_variable("region") or "us-east-1"
        client = session.create_client(
            "sts",
            region_name=region,
            aws_access_key_id=credentials.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            aws_session_token=token.get_secret_value() if token else None,
            config=Config(
                connect_timeout=timeouts.connect,
                read_timeout=timeouts.read,
                retries={"total_max_attempts": 2, "mode": "standard"},
            ),
        )
        answer = client.assume_role(**parameters)
    except (BotoCoreError, ClientError) as error:
        reason = mask(" ".join(str(error).split()) or type(error).__name__)
        raise CodeferryError(f"cannot assume the role {role}: {reason}") from None
    found = answer["Credentials"]
    remember(found["SecretAccessKey"], found["SessionToken"])
    return {
        "key": found["AccessKeyId"],
        "secret": found["SecretAccessKey"],
        "token": found["SessionToken"],
    }
