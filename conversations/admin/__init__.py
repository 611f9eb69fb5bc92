"""Django admin for conversations: subscribers, attributes, consent, messages, events, tokens.

The inbox's and the sign-up's admin pages live beside their code (conversations/inbox/admin.py,
conversations/signup/admin.py) and are registered from here, since Django looks only in `<app>.admin`.
"""

from ..inbox import admin as inbox_admin  # noqa: F401
from ..signup import admin as signup_admin  # noqa: F401
from . import api_tokens, records, subscribers  # noqa: F401
