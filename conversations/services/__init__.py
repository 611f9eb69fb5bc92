"""Every write and side effect of `conversations`, as named functions (see architecture.md).

Outbound texts have their own package, conversations/outbox/ (queue, hold, release, cancel, send, reports).

subscribers.py  subscribers, attributes, consent
inbound.py      inbound texts: stored first, keywords, then the handler chain
events.py       events (orders, carts…), recorded once
compliance.py   the compliance texts (program terms, HELP, opt-out confirmation) with the store's details
api_tokens.py   API tokens: made with a key shown once, stored hashed, revoked
links.py        tracked short links of texts sent to one subscriber (flows), and their clicks
"""

from .api_tokens import *  # noqa: F403
from .compliance import *  # noqa: F403
from .events import *  # noqa: F403
from .inbound import *  # noqa: F403
from .links import *  # noqa: F403
from .subscribers import *  # noqa: F403
