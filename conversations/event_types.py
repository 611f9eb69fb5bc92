"""The types of `Event` rows: what a subscriber did, named once.

Whoever observes a behaviour writes it as an event (through `conversations.services.event_record`), and segments
and flows read it by type, so that segments never import the app that observed it. Python code names a type by
the constant below; flow definitions (JSON), the API and the segment rules spell it as the string it holds. A store
may send types of its own through the API: `KNOWN` holds the ones Parley itself writes or reacts to.
"""

ORDER_PLACED = "order_placed"  # the store took an order (API, store webhooks); campaigns credit its revenue
CART_ABANDONED = "cart_abandoned"  # a cart was left without checking out (API; a Shopify checkout no order completed)
CHECKOUT_STARTED = "checkout_started"  # a checkout was begun (API, Shopify checkouts/create and /update)
BROWSE_ABANDONED = "browse_abandoned"  # products were looked at and none put in a cart (the store tells us)
PRODUCT_VIEWED = "product_viewed"  # a product page was viewed (the store tells us)
COLLECTION_VIEWED = "collection_viewed"  # a collection (category) page was viewed (browse tracking)
ORDER_FULFILLED = "order_fulfilled"  # an order (or part of it) was shipped (store webhooks)
ORDER_OUT_FOR_DELIVERY = "order_out_for_delivery"  # the carrier is delivering it today (store webhooks)
ORDER_DELIVERED = "order_delivered"  # the carrier delivered it (store webhooks)
BACK_IN_STOCK = "back_in_stock"  # a variant a shopper asked about came back in stock (commerce, once per request)
LINK_CLICKED = "link_clicked"  # a person (not a link-preview bot) opened a campaign's or a flow's short link
FLOW_ANSWER = "flow_answer"  # a flow's question was answered (flows): properties flow, question, answer
AGENT_HANDOFF = "agent_handoff"  # a flow handed the shopper to a person in the inbox (flows)

KNOWN = frozenset(
    {
        ORDER_PLACED,
        CART_ABANDONED,
        CHECKOUT_STARTED,
        BROWSE_ABANDONED,
        PRODUCT_VIEWED,
        COLLECTION_VIEWED,
        ORDER_FULFILLED,
        ORDER_OUT_FOR_DELIVERY,
        ORDER_DELIVERED,
        BACK_IN_STOCK,
        LINK_CLICKED,
        FLOW_ANSWER,
        AGENT_HANDOFF,
    }
)

# An order's own news: the only events that may start a transactional flow (Flow.Purpose.TRANSACTIONAL), whose texts
# go at any hour and beyond the caps. Anything else (a cart or a browse left, a keyword, a launch) is marketing.
TRANSACTIONAL_EVENTS = frozenset({ORDER_PLACED, ORDER_FULFILLED, ORDER_OUT_FOR_DELIVERY, ORDER_DELIVERED})
