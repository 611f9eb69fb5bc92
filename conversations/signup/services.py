"""Web sign-up with double opt-in: the pop-up's and the hosted page's submissions, and the Y that confirms them.

A submission stores the shopper as pending with a consent record of kind "requested" that keeps the exact
disclosure and its version, the page, IP and user agent (compliance.md, section 2), then texts the double opt-in
request. Their Y (or YES) within 7 days subscribes them, records the opt-in with the same proof, sends the
CTIA confirmation and starts the welcome flow. Numbers already subscribed are not texted again; a number that
opted out is told to text START itself, because anyone could have typed it into a form.
"""

import contextlib
import dataclasses
import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import (
    AttributeChange,
    AttributeDefinition,
    ConsentEvent,
    Message,
    SignupAttempt,
    SignupForm,
    SignupViews,
    Subscriber,
)
from ..outbox import message_queue
from ..phones import country_calling_code, country_for_phone, normalize_phone
from ..services.compliance import compliance_text
from ..services.subscribers import attributes_validate, subscriber_attributes_set, subscriber_create, subscriber_opt_in
from ..signals import send_isolated, subscriber_opted_in
from ..sms import keywords

CONFIRM_WITHIN = timedelta(days=7)  # a request not confirmed in a week has lapsed (compliance.md, section 2)


@dataclass
class SignupResult:
    outcome: str
    message: str  # what the shopper is shown
    status: int  # the HTTP status that goes with it
    errors: dict | None = None
    attempt_id: int | None = None  # the submission as logged (SignupAttempt), for browse tracking's identifier


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
    country: str = "",
    version: int | None = None,
) -> SignupResult:
    """Handle one submission of `form`; every submission is logged, refused ones too.

    Whether the number was new, already subscribed or opted out, the shopper is told the same thing, so that the
    form cannot be used to find out who subscribes; only a new or pending number is texted.
    """
    network = ip_network_key(ip)

    def attempt(outcome: str, number: str = "", subscriber: Subscriber | None = None) -> SignupAttempt:
        return SignupAttempt.objects.create(
            form=form, phone=number or phone[:32], ip=ip, network=network, outcome=outcome, subscriber=subscriber
        )

    keyword = form.keyword or settings.SMS_SIGNUP_KEYWORDS[0].upper()
    done = SignupResult(
        "requested", f"{form.thank_you_text} No text from us? Text {keyword} to {settings.SMS_SENDER}.", 201
    )
    if honeypot:  # a field people never see: a bot filled it. It is told nothing useful.
        return dataclasses.replace(done, attempt_id=attempt(SignupAttempt.Outcome.BOT).pk)
    now = timezone.now()
    window = now - timedelta(minutes=settings.SIGNUP_LIMIT_MINUTES)
    if network and SignupAttempt.objects.filter(network=network, created_at__gte=window).count() >= (
        settings.SIGNUP_LIMIT_PER_IP
    ):
        attempt(SignupAttempt.Outcome.LIMITED)
        return SignupResult(
            "limited",
            f"Too many sign-ups from this connection. Please try again in {settings.SIGNUP_LIMIT_MINUTES} minutes.",
            429,
        )
    if version is not None and version != form.disclosure_version:
        attempt(SignupAttempt.Outcome.CHANGED)
        return SignupResult(
            "changed", "The terms of this form have just changed: please read them again and sign up once more.", 409
        )
    region = (country or form.country).upper()
    region = region if region in form.countries else form.country
    errors = _check(form, phone, consent, email, answer, region)
    if errors:
        attempt(SignupAttempt.Outcome.INVALID)
        return SignupResult("invalid", " ".join(m for ms in errors.values() for m in ms), 400, errors)
    number = normalize_phone(phone, region=region)
    if (place := country_for_phone(number)) not in form.countries:
        attempt(SignupAttempt.Outcome.ABROAD, number)
        return SignupResult(
            "invalid",
            f"This form takes numbers from {', '.join(sorted(form.countries))} only "
            f"(this one is from {place or 'elsewhere'}).",
            400,
            {"phone": [f"numbers from {', '.join(sorted(form.countries))} only"]},
        )
    sent_today = SignupAttempt.objects.filter(
        phone=number, outcome=SignupAttempt.Outcome.REQUESTED, created_at__gte=now - timedelta(days=1)
    )
    if sent_today.count() >= settings.SIGNUP_LIMIT_PER_PHONE:
        attempt(SignupAttempt.Outcome.LIMITED, number)
        return SignupResult(
            "limited", "We have already sent a confirmation text to this number: reply Y to it, or try tomorrow.", 429
        )
    subscriber = Subscriber.objects.filter(phone=number).first()
    if subscriber and subscriber.status == Subscriber.Status.SUBSCRIBED:
        already = attempt(SignupAttempt.Outcome.ALREADY, number, subscriber)  # not texted again
        return dataclasses.replace(done, attempt_id=already.pk)
    if _opted_out(number):  # never texted by a form: anyone could have typed it; they text START themselves
        opted_out = attempt(SignupAttempt.Outcome.OPTED_OUT, number, subscriber)
        return dataclasses.replace(done, attempt_id=opted_out.pk)
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
                "email": email,
                "answer": answer,
            },
            occurred_at=now,
        )
        message_queue(
            subscriber=subscriber,
            body=_confirmation_request(),
            purpose=Message.Purpose.SYSTEM,
            origin=Message.Origin.SYSTEM,
        )
    return dataclasses.replace(done, attempt_id=signup.pk)


def ip_network_key(ip: str | None) -> str:
    """What the per-address limit counts: an IPv4 address, or the /64 an IPv6 address is in (one household)."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _opted_out(phone: str) -> bool:
    """The number's last word on consent was an opt-out, even if its subscriber was deleted since."""
    last = (
        ConsentEvent.objects.filter(phone=phone, kind__in=[ConsentEvent.Kind.OPT_IN, ConsentEvent.Kind.OPT_OUT])
        .order_by("-occurred_at", "-id")
        .values_list("kind", flat=True)
        .first()
    )
    return last == ConsentEvent.Kind.OPT_OUT


def disclosure_proof(form: SignupForm) -> dict:
    return {
        "form": form.slug,
        "disclosure": form.disclosure,
        "disclosure_version": form.disclosure_version,
        "disclosure_sha256": hashlib.sha256(form.disclosure.encode()).hexdigest(),
    }


def _check(form: SignupForm, phone: str, consent: bool, email: str, answer: str, region: str) -> dict:
    errors: dict[str, list[str]] = {}
    try:
        normalize_phone(phone, region=region)
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
    """A new number becomes a pending subscriber with what they entered; a pending one is left as it is (whoever
    submitted again may not be them): their Y applies what the request they confirm holds."""
    if subscriber is not None:
        return subscriber
    attributes = {form.question_attribute: _answer_value(form, answer)} if answer and form.question_attribute else {}
    try:
        with transaction.atomic():
            return subscriber_create(
                phone=number, email=email, attributes=attributes, attribute_source=AttributeChange.Source.WEB
            )
    except (ValidationError, IntegrityError):  # the same number submitted at the same moment: the other made it
        existing = Subscriber.objects.filter(phone=number).first()
        if existing is None:
            raise
        return existing


def _apply_request(subscriber: Subscriber, request: ConsentEvent) -> None:
    """On their Y: the e-mail and answer of the request they confirmed."""
    email, answer = request.details.get("email") or "", request.details.get("answer") or ""
    form = SignupForm.objects.filter(slug=request.details.get("form")).first()
    if email and not subscriber.email:
        subscriber.email = email
        subscriber.save(update_fields=["email", "updated_at"])
    if answer and form and form.question_attribute:
        # The attribute's options may have changed since: the sign-up stands without the answer then.
        with contextlib.suppress(ValidationError):
            subscriber_attributes_set(
                subscriber=subscriber,
                changes={form.question_attribute: _answer_value(form, answer)},
                source=AttributeChange.Source.WEB,
                reference=f"signup:{form.slug}",
            )


def _confirmation_request() -> str:
    return compliance_text("SMS_DOUBLE_OPT_IN_REQUEST")


def signup_confirm(inbound) -> bool:
    """A pending shopper's Y (or YES) to a sign-up request of the last 7 days subscribes them; True if it did."""
    subscriber, message = inbound.subscriber, inbound.message
    if subscriber.status != Subscriber.Status.PENDING or not keywords.is_confirmation(message.body):
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
    _apply_request(subscriber, request)
    inbound.reply(compliance_text("SMS_OPT_IN_CONFIRMATION"), purpose=Message.Purpose.SYSTEM)
    send_isolated(subscriber_opted_in, sender=Subscriber, subscriber=subscriber, message=message)
    return True


def signup_view_count(form: SignupForm) -> None:
    """One more showing of the form today, in the store's days (the pop-up's beacon, the hosted page)."""
    today = timezone.localdate(timezone=ZoneInfo(settings.PARLEY_DEFAULT_TIME_ZONE))
    updated = SignupViews.objects.filter(form=form, day=today).update(views=F("views") + 1)
    if not updated:
        with transaction.atomic():
            row, created = SignupViews.objects.select_for_update().get_or_create(
                form=form, day=today, defaults={"views": 1}
            )
            if not created:
                SignupViews.objects.filter(pk=row.pk).update(views=F("views") + 1)


# --- The forms themselves -------------------------------------------------------------------------------------

RESERVED_SLUGS = {"embed", "preview", "stats"}  # /signup/<these>/ are Parley's own pages


def _keyword(value: str) -> str:
    keyword = value.strip().upper()
    known = [word.strip().upper() for word in settings.SMS_SIGNUP_KEYWORDS]
    if keyword not in known:
        raise ValidationError(
            f"texting {keyword} would not sign anyone up: use one of {', '.join(known)} (SMS_SIGNUP_KEYWORDS)"
        )
    return keyword


def _question_attribute(value: str) -> str:
    key = value.strip()
    if key and not AttributeDefinition.objects.filter(key=key).exclude(options=[]).exists():
        raise ValidationError(f"no attribute with options is called {key!r}")
    return key


def _allowed_origins(value: str) -> str:
    """Origins as browsers send them: lower case, no default port, no path, no wildcard."""
    origins = []
    for line in value.splitlines():
        line = line.strip().rstrip("/").lower()
        if not line:
            continue
        scheme, _, host = line.partition("://")
        if scheme not in ("http", "https") or not host or "/" in host or "*" in host:
            raise ValidationError(f"{line!r} is not an origin: write https://shop.example.com (no path)")
        host = host.removesuffix(":443") if scheme == "https" else host.removesuffix(":80")
        origins.append(f"{scheme}://{host}")
    return "\n".join(dict.fromkeys(origins))


def _slug(value: str) -> str:
    if value in RESERVED_SLUGS:
        raise ValidationError(f"{value!r} names one of Parley's own pages; choose another")
    return value


def _other_countries(value: str) -> str:
    codes = value.replace(",", " ").upper().split()
    unknown = [code for code in codes if not country_calling_code(code)]
    if unknown:
        raise ValidationError(f"not country codes such as CA or GB: {', '.join(unknown)}")
    return " ".join(dict.fromkeys(codes))


def _country(value: str) -> str:
    country = value.upper()
    if not country_calling_code(country):
        raise ValidationError(f"{country!r} is not a country code such as US or GB")
    return country


# The rules of the fields that have one beyond the model's own (lengths, choices, a slug's characters).
SIGNUP_FORM_RULES = {
    "slug": _slug,
    "keyword": _keyword,
    "question_attribute": _question_attribute,
    "allowed_origins": _allowed_origins,
    "other_countries": _other_countries,
    "country": _country,
}


def signup_form_rules(fields: dict) -> dict:
    """The given fields of a sign-up form as they are stored, or a ValidationError naming each wrong field."""
    cleaned, errors = dict(fields), {}
    for name, rule in SIGNUP_FORM_RULES.items():
        if name not in fields:
            continue
        if not isinstance(fields[name], str):
            errors[name] = [f"{name} must be text"]
            continue
        try:
            cleaned[name] = rule(fields[name])
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def signup_form_create(*, fields: dict) -> SignupForm:
    """Check a new sign-up form's fields and save it, its disclosure as version 1."""
    form = SignupForm(**signup_form_rules(fields))
    form.full_clean()
    form.save()
    return form


def signup_form_update(*, form: SignupForm, changes: dict) -> SignupForm:
    """Check and save changes to a sign-up form; a new wording of its disclosure becomes its next version.

    Only the fields in `changes` change. The row is locked while the wording saved last is compared, so two people
    saving at once make two versions, and consent records always name the version they were given under.
    """
    changes = signup_form_rules(changes)
    with transaction.atomic():
        saved = SignupForm.objects.select_for_update().get(pk=form.pk)
        new_wording = "disclosure" in changes and changes["disclosure"] != saved.disclosure
        for name, value in changes.items():
            setattr(saved, name, value)
        saved.disclosure_version += 1 if new_wording else 0
        saved.full_clean()
        saved.save()
    for name in [*changes, "disclosure_version", "updated_at"]:
        setattr(form, name, getattr(saved, name))
    return form


__all__ = [
    "SignupResult",
    "disclosure_proof",
    "signup_confirm",
    "signup_form_create",
    "signup_form_rules",
    "signup_form_update",
    "signup_submit",
    "signup_view_count",
]
