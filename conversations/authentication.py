"""API authentication: `Authorization: Token <key>`, checked against the hashes of Parley's API tokens."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from . import services
from .models import ApiToken


class ApiTokenAuthentication(TokenAuthentication):
    """A request with the key of an API token that is not revoked acts as the token's user.

    The wire format is DRF's (`Authorization: Token <key>`), so clients made for DRF's tokens keep working; the
    header parsing is DRF's, the lookup is by the key's hash.
    """

    keyword = "Token"

    def authenticate_credentials(self, key):
        token = ApiToken.objects.active().select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
        if token is None:
            raise AuthenticationFailed("Invalid token: it is wrong or was revoked.")
        if not token.user.is_active:
            raise AuthenticationFailed("The token's user is inactive.")
        services.api_token_mark_used(token=token)
        return token.user, token


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes ApiTokenAuthentication in the OpenAPI schema as the `tokenAuth` security scheme."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API token with the prefix "Token ", e.g. `Authorization: Token prl_…`. Staff create '
            "tokens in the admin (API tokens) or with `manage.py create_api_token <username>`; the key is shown "
            "once. A token acts as its user, with that user's permissions.",
        }
