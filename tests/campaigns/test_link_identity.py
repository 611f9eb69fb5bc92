"""A tracked link's redirect to the store's own site carries the shopper's signed identifier (browse tracking).

Only to a site named by a sign-up form that tracks browsing, where the pop-up's script keeps it and takes it out of
the address; any other destination gets no identifier.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from campaigns import services
from campaigns.fanout import campaigns_fanout_due
from conversations.models import Message, SignupForm
from conversations.signup.demo import signup_form_load
from conversations.signup.identity import browse_identity_read

STORE = "https://shop.example"


@pytest.fixture
def store_form(db):
    signup_form_load()
    form = SignupForm.objects.get(slug="welcome")
    form.allowed_origins = STORE
    form.save()
    return form


def send(link_url: str, vegans) -> dict[int, str]:
    """Send a campaign with one link to the vegans; {subscriber id: their short link's path}."""
    campaign = services.campaign_save(
        data={
            "name": "New lip balms",
            "link_url": link_url,
            "holdout_percent": 0,
            "variants": [{"body": "New vegan lip balms {{ link }}", "weight": 100}],
            "include_segments": [vegans.pk],
            "exclude_segments": [],
        }
    )
    services.campaign_send(campaign=campaign)
    campaigns_fanout_due()
    texts = Message.objects.filter(origin="campaign", origin_id__in=campaign.recipients.values("id"))
    return {text.subscriber_id: urlsplit(text.body.split()[-1]).path for text in texts}


def test_a_link_to_the_store_carries_the_shoppers_identifier_after_the_stores_query(
    client, vegan_people, vegans, daytime, store_form
):
    links = send(f"{STORE}/lip-balm?ref=sms", vegans)
    assert len(links) == len(vegan_people)
    for subscriber_id, path in list(links.items())[:3]:
        response = client.get(path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
        assert response.status_code == 302
        target = urlsplit(response["Location"])
        assert (target.netloc, target.path) == ("shop.example", "/lip-balm")
        assert target.query.startswith("ref=sms&utm_source=parley")
        query = parse_qs(target.query)
        (identity,) = query["parley_id"]
        assert browse_identity_read(identity) == subscriber_id


def test_no_identifier_for_another_site_or_when_tracking_is_off(client, vegan_people, vegans, daytime, store_form):
    elsewhere = next(iter(send("https://blog.example/lip-balm", vegans).values()))
    assert "parley_id" not in client.get(elsewhere)["Location"]
    to_store = next(iter(send(f"{STORE}/lip-balm", vegans).values()))
    assert "parley_id=" in client.get(to_store)["Location"]
    store_form.track_browsing = False
    store_form.save()
    assert "parley_id" not in client.get(to_store)["Location"]
