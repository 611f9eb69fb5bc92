"""Post a sample webhook to a running Parley, signed as the platform signs it: try the store connection by hand.

Like `shopify app webhook trigger`: the payload is one of the samples in commerce/samples/<platform>/ (shaped like
the platform's documented example), with the phone numbers, ids and times you give, signed with this Parley's
own secret (SHOPIFY_WEBHOOK_SECRET or WOOCOMMERCE_WEBHOOK_SECRET).
"""

import base64
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from urllib import error, request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PHONE_KEYS = {"phone", "sms_marketing_phone"}
TIME_KEYS = {"created_at", "updated_at", "processed_at", "consent_updated_at", "date_created_gmt", "date_modified_gmt"}


def samples() -> dict[str, list[str]]:
    """platform → the topics it has a sample for (file shopify/orders_create.json is topic orders/create)."""
    found = {}
    for platform in ("shopify", "woocommerce"):
        names = sorted(path.stem for path in (SAMPLES / platform).glob("*.json"))
        found[platform] = [_topic(platform, name) for name in names]
    return found


def _topic(platform: str, stem: str) -> str:
    if platform == "woocommerce":
        return stem.replace("_", ".", 1)
    resource, _, action = stem.rpartition("_")
    return f"{resource}/{action}"


def _sample_path(platform: str, topic: str) -> Path:
    stem = topic.replace(".", "_") if platform == "woocommerce" else topic.replace("/", "_")
    return SAMPLES / platform / f"{stem}.json"


def rewrite(data, *, phone: str = "", now: str = ""):
    """Every phone number in the payload becomes `phone`, every creation/update time `now` (when given)."""
    if isinstance(data, list):
        return [rewrite(item, phone=phone, now=now) for item in data]
    if not isinstance(data, dict):
        return data
    result = {}
    for key, value in data.items():
        if phone and key in PHONE_KEYS and value:
            value = phone
        elif now and key in TIME_KEYS and value:
            value = now if not key.endswith("_gmt") else now[:19]
        result[key] = rewrite(value, phone=phone, now=now)
    return result


def set_path(data, path: str, value):
    """`line_items.0.quantity` = 2: walk objects by key and lists by index."""
    *parents, last = path.split(".")
    target = data
    try:
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    except (KeyError, IndexError, ValueError, TypeError):
        raise CommandError(f"--set {path}: the sample has no such place") from None


class Command(BaseCommand):
    help = (
        "Post a sample Shopify or WooCommerce webhook to a running Parley, signed with this Parley's secret. "
        "E.g. send_test_webhook shopify checkouts/create --phone '+1 415 555 0100'"
    )

    def add_arguments(self, parser):
        parser.add_argument("platform", choices=["shopify", "woocommerce"])
        parser.add_argument("topic", help="e.g. orders/create, checkouts/create (Shopify), order.created (WooCommerce)")
        parser.add_argument("--phone", default="", help="the shopper's number, put in every phone field")
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="PATH=JSON",
            help="change one field, e.g. --set checkout_token='\"abc\"' or --set variants.0.inventory_quantity=5",
        )
        parser.add_argument("--file", default="", help="post this JSON file instead of the sample")
        parser.add_argument("--keep-times", action="store_true", help="keep the sample's dates (default: now)")
        parser.add_argument("--webhook-id", default="", help="repeat a delivery: the same X-Shopify-Webhook-Id")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Parley's address (default %(default)s)")

    def handle(self, *args, platform, topic, **options):
        secret = settings.SHOPIFY_WEBHOOK_SECRET if platform == "shopify" else settings.WOOCOMMERCE_WEBHOOK_SECRET
        if not secret:
            name = "SHOPIFY_WEBHOOK_SECRET" if platform == "shopify" else "WOOCOMMERCE_WEBHOOK_SECRET"
            raise CommandError(f"{name} is not set here: set it as the server has it, to sign like {platform}.")
        path = Path(options["file"]) if options["file"] else _sample_path(platform, topic)
        if not path.is_file():
            known = ", ".join(samples()[platform])
            raise CommandError(f"no sample for {platform} {topic!r}: give --file, or one of {known}")
        data = json.loads(path.read_text())
        # To the microsecond: a second run within the same second is still newer than the first.
        now = "" if options["keep_times"] else timezone.now().isoformat()
        data = rewrite(data, phone=options["phone"].strip(), now=now)
        for assignment in options["set"]:
            place, separator, raw = assignment.partition("=")
            if not separator:
                raise CommandError(f"--set {assignment}: write it as PATH=JSON, e.g. total_price='\"25.00\"'")
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw  # a bare word is text
            set_path(data, place, value)
        body = json.dumps(data).encode()
        answer = self._post(platform, topic, body, secret, options)
        self.stdout.write(answer)

    def _post(self, platform, topic, body, secret, options) -> str:
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        delivery = options["webhook_id"] or str(uuid.uuid4())
        if platform == "shopify":
            headers = {
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Shop-Domain": settings.SHOPIFY_SHOP_DOMAIN or "parley-test.myshopify.com",
                "X-Shopify-Webhook-Id": delivery,
                "X-Shopify-Event-Id": delivery,
                "X-Shopify-Triggered-At": timezone.now().isoformat(),
            }
        else:
            headers = {
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Signature": signature,
                "X-WC-Webhook-Delivery-ID": delivery,
                "X-WC-Webhook-Source": settings.COMMERCE_STORE_URL or "https://shop.example.com/",
            }
        url = f"{options['url'].rstrip('/')}/webhooks/{platform}/"
        call = request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json", **headers})
        try:
            with request.urlopen(call, timeout=30) as response:
                return f"{response.status} {response.read().decode()}"
        except error.HTTPError as answer:
            return f"{answer.code} {answer.read().decode()}"
        except OSError as failure:
            raise CommandError(f"cannot reach Parley at {url}: {failure}") from None
