"""API tokens: a random key shown once when made, stored only as its SHA-256, revoked when no longer needed."""

import datetime
import re
import secrets

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from ..models import ApiToken

# A recognisable start lets people (and secret scanners) tell a Parley key from other secrets.
KEY_START = "prl_"
# Requests record their token's use at most this often, so a busy client does not write on every call.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def api_token_grant_check(*, user, granted_by) -> None:
    """Refuse a token that would let `granted_by` act with permissions they do not have themselves."""
    if granted_by is None or granted_by.is_superuser or granted_by.pk == user.pk:
        return
    name = user.get_username()
    if user.is_superuser:
        raise ValidationError(f"only a superuser may create a token for {name}, who is a superuser")
    missing = sorted(user.get_all_permissions() - granted_by.get_all_permissions())
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ValidationError(
            f"you may not create a token for {name}: it would hold permissions you do not have ({shown}); "
            "ask a superuser"
        )


def api_token_create(*, user, name: str, created_by=None) -> tuple[ApiToken, str]:
    """A new token for `user`, and its key: returned this once, as only the key's hash is stored."""
    api_token_grant_check(user=user, granted_by=created_by)
    key = KEY_START + secrets.token_hex(24)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[: ApiToken.PREFIX_LENGTH],
        key_hash=ApiToken.hash_key(key),
        created_by=created_by,
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> bool:
    """The token stops working at once (False if it already had); its record stays, to show who used what."""
    now = timezone.now()
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        token.revoked_at = now
    return bool(revoked)


def api_token_mark_used(*, token: ApiToken) -> None:
    """Record that the token was used now, writing at most once a minute per token."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def api_token_rename(*, token: ApiToken, name: str) -> ApiToken:
    """Give a token another name (what it is for); its key, user and dates stay."""
    token.name = name
    token.save(update_fields=["name"])
    return token


def looks_like_key(text: str) -> bool:
    """Whether `text` is a whole key as Parley makes them (prl_ and 48 hex digits) or DRF made them (40 hex)."""
    return bool(re.fullmatch(rf"{KEY_START}[0-9a-f]{{48}}|[0-9a-f]{{40}}", text))


__all__ = [
    "api_token_create",
    "api_token_grant_check",
    "api_token_mark_used",
    "api_token_rename",
    "api_token_revoke",
    "looks_like_key",
]
