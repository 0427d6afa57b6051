from __future__ import annotations

from django.conf import settings
from django.db import models

from creditplan.scoring.domain.lifecycle import ModelStatus


class ScoringModel(models.Model):
    """A named model slot (e.g. "retail-pd") whose versions compete: one champion, optionally a challenger
    that receives `challenger_pct` % of the traffic."""

    name = models.SlugField(max_length=60, unique=True)
    description = models.CharField(max_length=200, blank=True)
    challenger = models.ForeignKey("ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    challenger_pct = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One compiled artifact, immutable once stored; only its status moves."""

    model = models.ForeignKey(ScoringModel, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=20)
    status = models.CharField(max_length=12, default=ModelStatus.DRAFT,
                              choices=[(s.value, s.value) for s in ModelStatus])
    artifact = models.TextField(help_text="the compiled JSON artifact")
    artifact_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict)
    report_html = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "number"], name="model_version_number")]
        ordering = ["model", "-number"]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.number} ({self.status})"
