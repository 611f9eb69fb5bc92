from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Segment(models.Model):
    """A named set of subscribers, defined by rules and computed when asked (see segments/README.md)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    rules = models.JSONField(help_text='Nested groups of conditions, e.g. {"all": [{"tag": "vip"}]}')
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # "VIP" and "vip" are one name, also when two requests save them at once.
        constraints = [models.UniqueConstraint(Lower("name"), name="segment_unique_name_any_case")]

    def __str__(self) -> str:
        return self.name
