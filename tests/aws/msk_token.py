"""Prints the MSK IAM token that AWS's own signer (aws-msk-iam-sasl-signer-python)
makes for fixed credentials at a fixed time, and its expiry in ms, one per line:

    python3 msk_token.py REGION ACCESS_KEY SECRET_KEY SESSION_TOKEN|- EPOCH_SECONDS

The signer reads botocore's clock through botocore.auth.get_current_datetime,
which is pinned here to the given time.
"""
import datetime
import sys

import botocore.auth
from botocore.credentials import CredentialProvider, Credentials
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider


class Fixed(CredentialProvider):
    def __init__(self, access_key, secret_key, token):
        self.credentials = Credentials(access_key, secret_key, token)

    def load(self):
        return self.credentials


def main():
    region, access_key, secret_key, token, epoch = sys.argv[1:6]
    at = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).replace(tzinfo=None)
    botocore.auth.get_current_datetime = lambda *args, **kwargs: at
    provider = Fixed(access_key, secret_key, None if token == "-" else token)
    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(region, provider)
    print(token)
    print(expiry_ms)


if __name__ == "__main__":
    main()
