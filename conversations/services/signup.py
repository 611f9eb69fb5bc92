"""Web sign-up with double opt-in: the pop-up's and the hosted page's submissions, and the Y that confirms them.

A submission stores the shopper as pending with a consent record of kind "requested" that keeps the exact
disclosure and its version, the page, IP and user agent (compliance.md, section 2), then texts the double opt-in
request. Their Y (or YES) within 7 days subscribes them, records the opt-in with the same proof, sends the
CTIA confirmation and starts the welcome flow. Numbers already subscribed are not texted again; a number that
opted out is told to text START itself, because anyone could have typed it into a form.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import AttributeChange, ConsentEvent, Message, SignupAttempt, SignupForm, SignupViews, Subscriber
from ..phones import normalize_phone
from ..signals import send_isolated, subscriber_opted_in
from ..sms import keywords
from .messages import message_queue
from .subscribers import attributes_validate, subscriber_attributes_set, subscriber_create, subscriber_opt_in

CONFIRM_WITHIN = timedelta(days=7)  # a request not confirmed in a week has lapsed (compliance.md, section 2)
CONFIRM_WORDS = {"y", "yes"}


@dataclass
class SignupResult:
    outcome: str
    message: str  # what the shopper is shown
    status: int  # the HTTP status that goes with it
    errors: dict | None = None


def signup_submit(
    *,
    form: SignupForm,
    phone: str,
    consent: bool,
    email: str = "",
    answer: str = "",
    honeypot: str = "",
    page_url: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> SignupResult:
    """Handle one submission of `form`; every submission is logged, refused ones too."""

    def attempt(outcome: str, number: str = "", subscriber: Subscriber | None = None) -> SignupAttempt:
        return SignupAttempt.objects.create(
            form=form, phone=number or phone[:32], ip=ip, outcome=outcome, subscriber=subscriber
        )

    if honeypot:  # a field people never see: a bot filled it. It is told nothing useful.
        attempt(SignupAttempt.Outcome.BOT)
        return SignupResult("bot", form.thank_you_text, 201)
    now = timezone.now()
    window = timedelta(minutes=settings.SIGNUP_LIMIT_MINUTES)
    if ip and SignupAttempt.objects.filter(ip=ip, created_at__gte=now - window).count() >= settings.SIGNUP_LIMIT_PER_IP:
        attempt(SignupAttempt.Outcome.LIMITED)
        return SignupResult(
            "limited",
            f"Too many sign-ups from this connection. Please try again in {settings.SIGNUP_LIMIT_MINUTES} minutes.",
            429,
        )
    errors = _check(form, phone, consent, email, answer)
    if errors:
        attempt(SignupAttempt.Outcome.INVALID)
        return SignupResult("invalid", " ".join(m for ms in errors.values() for m in ms), 400, errors)
    number = normalize_phone(phone, region=form.country)
    recent = SignupAttempt.objects.filter(
        phone=number, outcome=SignupAttempt.Outcome.REQUESTED, created_at__gte=now - timedelta(hours=1)
    )
    if recent.count() >= settings.SIGNUP_LIMIT_PER_PHONE:
        attempt(SignupAttempt.Outcome.LIMITED, number)
        return SignupResult(
            "limited",
            "We have already sent a confirmation text to this number: reply Y to it, or try again in an hour.",
            429,
        )
    subscriber = Subscriber.objects.filter(phone=number).first()
    if subscriber and subscriber.status == Subscriber.Status.SUBSCRIBED:
        attempt(SignupAttempt.Outcome.ALREADY, number, subscriber)
        return SignupResult("already", "You're already subscribed to our texts. Thank you!", 200)
    if subscriber and subscriber.status == Subscriber.Status.UNSUBSCRIBED:
        attempt(SignupAttempt.Outcome.OPTED_OUT, number, subscriber)
        keyword = form.keyword or settings.SMS_SIGNUP_KEYWORDS[0]
        return SignupResult(
            "opted_out",
            f"This number asked us to stop texting it, so we won't text it now. To join again, text {keyword} "
            f"or START to {settings.SMS_SENDER}.",
            409,
        )
    with transaction.atomic():
        subscriber = _pending_subscriber(subscriber, number, email, form, answer)
        signup = attempt(SignupAttempt.Outcome.REQUESTED, number, subscriber)
        ConsentEvent.objects.create(
            subscriber=subscriber,
            phone=number,
            kind=ConsentEvent.Kind.REQUESTED,
            source=ConsentEvent.Source.WEB,
            raw_text=form.disclosure,
            details={
                **disclosure_proof(form),
                "attempt": signup.pk,
                "page_url": page_url[:2000],
                "ip": ip,
                "user_agent": user_agent[:500],
                "checkbox": bool(consent),
            },
            occurred_at=now,
        )
        message_queue(
            subscriber=subscriber,
            body=_confirmation_request(),
            purpose=Message.Purpose.SYSTEM,
            origin=Message.Origin.SYSTEM,
        )
    return SignupResult("requested", form.thank_you_text, 201)


def disclosure_proof(form: SignupForm) -> dict:
    return {
        "form": form.slug,
        "disclosure": form.disclosure,
        "disclosure_version": form.disclosure_version,
        "disclosure_sha256": hashlib.sha256(form.disclosure.encode()).hexdigest(),
    }


def _check(form: SignupForm, phone: str, consent: bool, email: str, answer: str) -> dict:
    errors: dict[str, list[str]] = {}
    try:
        normalize_phone(phone, region=form.country)
    except ValidationError as error:
        errors["phone"] = error.messages
    if not consent:
        errors["consent"] = ["Tick the box to agree to receive our texts."]
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [f"{email!r} is not an e-mail address."]
    if answer and form.question_attribute:
        try:
            attributes_validate({form.question_attribute: _answer_value(form, answer)})
        except ValidationError as error:
            errors["answer"] = [m for ms in error.message_dict.values() for m in ms]
    return errors


def _answer_value(form: SignupForm, answer: str):
    from ..models import AttributeDefinition

    definition = AttributeDefinition.objects.filter(key=form.question_attribute).first()
    if definition is not None and definition.type == AttributeDefinition.Type.MULTIPLE_CHOICE:
        return [answer]
    return answer


def _pending_subscriber(subscriber, number, email, form, answer) -> Subscriber:
    attributes = {form.question_attribute: _answer_value(form, answer)} if answer and form.question_attribute else {}
    if subscriber is None:
        return subscriber_create(
            phone=number, email=email, attributes=attributes, attribute_source=AttributeChange.Source.WEB
        )
    if email and not subscriber.email:
        subscriber.email = email
        subscriber.save(update_fields=["email", "updated_at"])
    if attributes:
        subscriber_attributes_set(subscriber=subscriber, changes=attributes, source=AttributeChange.Source.WEB)
    return subscriber


def _confirmation_request() -> str:
    from .inbound import compliance_text

    return compliance_text("SMS_DOUBLE_OPT_IN_REQUEST")


def signup_confirm(inbound) -> bool:
    """A pending shopper's Y (or YES) to a sign-up request of the last 7 days subscribes them; True if it did."""
    subscriber, message = inbound.subscriber, inbound.message
    if subscriber.status != Subscriber.Status.PENDING or keywords.normalize(message.body) not in CONFIRM_WORDS:
        return False
    request = (
        ConsentEvent.objects.filter(
            subscriber=subscriber,
            kind=ConsentEvent.Kind.REQUESTED,
            occurred_at__gte=message.created_at - CONFIRM_WITHIN,
        )
        .order_by("-occurred_at")
        .first()
    )
    if request is None:
        return False
    proof = {key: request.details.get(key) for key in ("form", "disclosure", "disclosure_version", "disclosure_sha256")}
    subscriber_opt_in(
        subscriber=subscriber,
        source=ConsentEvent.Source.WEB,
        raw_text=message.body,
        details={
            **proof,
            "requested": request.pk,
            "page_url": request.details.get("page_url"),
            "ip": request.details.get("ip"),
            "user_agent": request.details.get("user_agent"),
            "message_id": message.pk,
            "provider_message_id": message.provider_message_id,
        },
        at=message.created_at,
    )
    SignupAttempt.objects.filter(pk=request.details.get("attempt")).update(confirmed_at=message.created_at)
    from .inbound import compliance_text

    inbound.reply(compliance_text("SMS_OPT_IN_CONFIRMATION"), purpose=Message.Purpose.SYSTEM)
    send_isolated(subscriber_opted_in, sender=Subscriber, subscriber=subscriber, message=message)
    return True


def signup_view_count(form: SignupForm) -> None:
    """One more showing of the form today (the pop-up's beacon)."""
    today = timezone.localdate()
    updated = SignupViews.objects.filter(form=form, day=today).update(views=F("views") + 1)
    if not updated:
        with transaction.atomic():
            row, created = SignupViews.objects.select_for_update().get_or_create(
                form=form, day=today, defaults={"views": 1}
            )
            if not created:
                SignupViews.objects.filter(pk=row.pk).update(views=F("views") + 1)


__all__ = ["SignupResult", "disclosure_proof", "signup_confirm", "signup_submit", "signup_view_count"]
