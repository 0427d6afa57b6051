"""Documents of an application (uploaded by the customer or their officer, or generated: the contract), their
versions, the contract offered for signature and the signatures on it.

The files themselves live outside the database (see storage.py): a version row records the SHA-256 of the
content, where the encrypted file is, and what the upload was.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from creditplan.documents.domain import Kind
from creditplan.origination.models import Application


class Document(models.Model):
    """One kind of document of one application; uploading the same kind again adds a version."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=20, choices=[(k.value, k.value) for k in Kind])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["application_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["application", "kind"], name="one_document_per_kind")]

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind}"


class DocumentVersion(models.Model):
    """An uploaded (or generated) file. Append-only: old versions stay viewable."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    filename = models.CharField(max_length=130)  # sanitised
    content_type = models.CharField(max_length=40)  # detected from the bytes
    claimed_type = models.CharField(max_length=100, blank=True)  # what the browser said (not trusted)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    storage_path = models.CharField(max_length=200)  # relative to the document directory
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    uploaded_by_name = models.CharField(max_length=150)
    at = models.DateTimeField()

    class Meta:
        ordering = ["document_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["document", "version"], name="one_version_number")]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.version} {self.sha256[:12]}"


class Contract(models.Model):
    """The loan contract offered on an approved application: the generated PDF (a contract document version),
    its digest, and later the signature and the loan it was disbursed as. One per application."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="contract")
    version = models.ForeignKey(DocumentVersion, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    terms = models.JSONField(default=dict)  # what the contract says, as data (amounts in fen)
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    offered_at = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    disbursed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    disbursed_at = models.DateTimeField(null=True, blank=True)
    loan_ref = models.CharField(max_length=30, blank=True)

    def __str__(self) -> str:
        return f"contract {self.application_id} {self.sha256[:12]}"


class Signature(models.Model):
    """Who signed what, when, from where and how: the evidence of an electronic signature."""

    contract = models.OneToOneField(Contract, on_delete=models.PROTECT, related_name="signature")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=150)
    method = models.CharField(max_length=40)  # click_to_sign+password(+id_last4)
    sha256 = models.CharField(max_length=64)  # the contract the signer saw
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"signature {self.contract_id} by {self.user_id}"


class SigningAttempt(models.Model):
    """A refused signature (wrong password or ID digits): counted, and after too many the contract is locked."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=40)
    ip = models.CharField(max_length=45, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"refused signature {self.application_id} by {self.user_id}: {self.reason}"
