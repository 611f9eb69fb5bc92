"""The demo's sign-up form, loaded by `seed_demo` (settings.DEMO_LOADERS)."""

from django.conf import settings

from ..models import AttributeDefinition, SignupForm
from .services import signup_form_create

DEMO_DISCLOSURE = (
    "By signing up, you agree to receive recurring automated marketing text messages (e.g. cart reminders) from "
    "{store} at the number provided. Consent is not a condition of purchase. Up to {per_month} msgs/month. Msg & "
    "data rates may apply. Reply HELP for help and STOP to cancel. See our Terms and Privacy Policy."
)


def signup_form_load() -> list[str]:
    """The demo sign-up form `welcome`: the pop-up of /demo/store/, its hosted page and QR code."""
    if SignupForm.objects.filter(slug="welcome").exists():
        return []
    question = "gift_recipient" if AttributeDefinition.objects.filter(key="gift_recipient").exists() else ""
    signup_form_create(
        fields={
            "slug": "welcome",
            "name": "Welcome pop-up",
            "headline": "Get 15% off your first order",
            "offer_text": "Join our texts for new arrivals, restocks and members-only offers.",
            "disclosure": DEMO_DISCLOSURE.format(
                store=settings.PARLEY_STORE_NAME, per_month=settings.SMS_MESSAGES_PER_MONTH
            ),
            "question_attribute": question,
            "question_text": "Who are you shopping for?" if question else "",
            "trigger": "delay",
            "trigger_value": 3,
            "allowed_origins": "http://127.0.0.1:8000\nhttp://localhost:8000",
            "keyword": settings.SMS_SIGNUP_KEYWORDS[0].upper(),
        }
    )
    return ["sign-up form: welcome (/demo/store/, /join/welcome/)"]
