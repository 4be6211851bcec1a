"""xero-python, unchanged (pinned in requirements.txt), against the sandbox's Xero
stand-in started from the real binary: the PKCE code flow, /connections, contacts,
invoices and payments written and read back with Xero's envelope and Microsoft dates,
paging and If-Modified-Since, Idempotency-Key, a payment deleted, an invoice voided, a
credit note's credit refunded in cash and that refund deleted,
the lock date, token expiry, refresh and revocation.

    CHARGEGUARD_BIN=target/release/chargeguard python tests/books-clients/xero.py
"""

import base64
import datetime
import hashlib
import secrets
import sys
import urllib.parse
from decimal import Decimal

from harness import Checks, start_sandbox  # noqa: E402
import requests
from xero_python.accounting import (
    Account,
    AccountingApi,
    Contact,
    Contacts,
    CreditNote,
    CreditNotes,
    Invoice,
    Invoices,
    LineItem,
    Payment,
    PaymentDelete,
)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import AccountingBadRequestException, HTTPStatusException
from xero_python.identity import IdentityApi

checks = Checks()
check = checks.check
sandbox, base = start_sandbox("cg-xero-python-")
try:
    REDIRECT = "http://localhost:8766/callback"
    PKCE_CLIENT = "cg-desktop-pkce"
    CLIENT_ID, CLIENT_SECRET = "cg-web", "cg-secret"
    TokenApi.refresh_token_url = base + "/connect/token"
    TokenApi.revoke_token_url = base + "/connect/revocation"
    token = {}

    def consent(client_id, challenge=None):
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid offline_access accounting.transactions accounting.settings.read",
            "state": "s-9",
        }
        if challenge:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        answer = requests.get(base + "/identity/connect/authorize", params=params, allow_redirects=False)
        assert answer.status_code == 302, answer.text
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(answer.headers["Location"]).query))
        assert query["state"] == "s-9"
        return {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT}

    def pkce():
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        form = {**consent(PKCE_CLIENT, challenge), "client_id": PKCE_CLIENT}
        wrong = requests.post(base + "/connect/token", data={**form, "code_verifier": "x" * 43})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        answer = requests.post(base + "/connect/token", data={**form, "code_verifier": verifier})
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert got["expires_in"] == 1800 and got["token_type"] == "Bearer" and got["refresh_token"]

    check("the PKCE code flow (a desktop app, no secret) gives tokens", pkce)

    def connect():
        # xero-python refreshes only as a client with a secret (a web app's flow).
        answer = requests.post(base + "/connect/token", data=consent(CLIENT_ID), auth=(CLIENT_ID, CLIENT_SECRET))
        assert answer.status_code == 200, answer.text
        got = answer.json()
        got["scope"] = got["scope"].split(" ")
        token.update(got)

    check("the code flow with a client secret gives tokens", connect)

    api_client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)),
        pool_threads=1,
        oauth2_token_getter=lambda: token,
        oauth2_token_saver=lambda t: token.update(t),
    )
    identity = IdentityApi(api_client, base_url=base)
    accounting = AccountingApi(api_client, base_url=base + "/api.xro/2.0")
    made = {}

    def connections():
        found = identity.get_connections()
        assert len(found) == 1 and found[0].tenant_type == "ORGANISATION", found
        made["tenant"] = found[0].tenant_id

    check("/connections names the organisation the consent reached", connections)

    def invoices():
        tenant = made["tenant"]
        contact = accounting.create_contacts(tenant, Contacts(contacts=[Contact(name="Barney Rubble")])).contacts[0]
        made["contact"] = contact
        for number, amount in [("INV-2001", "100.50"), ("INV-2002", "362.07")]:
            invoice = Invoice(
                type="ACCREC",
                contact=Contact(contact_id=contact.contact_id),
                line_items=[LineItem(description="Subscription", quantity=1.0, unit_amount=float(amount), account_code="200")],
                date=datetime.date(2026, 12, 1),
                due_date=datetime.date(2026, 12, 31),
                invoice_number=number,
                reference="Chargeguard test",
                status="AUTHORISED",
            )
            created = accounting.create_invoices(tenant, Invoices(invoices=[invoice])).invoices[0]
            assert created.total == Decimal(amount) and created.amount_due == Decimal(amount), created
            assert created.date == datetime.date(2026, 12, 1)
            made[number] = created
        try:
            accounting.create_invoices(tenant, Invoices(invoices=[invoice]))
            raise AssertionError("an invoice number is used once")
        except AccountingBadRequestException as e:
            assert "must be unique" in e.reason, e.reason

    check("contacts and invoices are created with Xero's totals and dates", invoices)

    def reads():
        tenant = made["tenant"]
        page = accounting.get_invoices(tenant, page=1, page_size=1, order="InvoiceNumber ASC")
        assert [i.invoice_number for i in page.invoices] == ["INV-2001"]
        assert page.pagination.item_count == 2 and page.pagination.page_count == 2
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        recent = accounting.get_invoices(tenant, if_modified_since=since, statuses=["AUTHORISED"], page=1)
        assert {i.invoice_number for i in recent.invoices} == {"INV-2001", "INV-2002"}
        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
        assert accounting.get_invoices(tenant, if_modified_since=later, page=1).invoices == []
        one = accounting.get_invoice(tenant, made["INV-2002"].invoice_id).invoices[0]
        assert one.total == Decimal("362.07")

    check("lists page, order and filter by status and If-Modified-Since", reads)

    def pay(key):
        payment = Payment(
            invoice=Invoice(invoice_id=made["INV-2001"].invoice_id),
            account=Account(code="090"),
            amount=100.50,
            date=datetime.date(2026, 12, 5),
            reference="chargeguard:" + key,
        )
        return accounting.create_payment(made["tenant"], payment, idempotency_key=key).payments[0]

    def idempotent_payment():
        first = pay("cg-k-1")
        second = pay("cg-k-1")
        assert first.payment_id == second.payment_id
        invoice = accounting.get_invoice(made["tenant"], made["INV-2001"].invoice_id).invoices[0]
        assert invoice.status == "PAID" and invoice.amount_due == 0, invoice
        assert len(accounting.get_payments(made["tenant"]).payments) == 1
        found = accounting.get_payments(made["tenant"], where='Reference=="chargeguard:cg-k-1"').payments
        assert [p.payment_id for p in found] == [first.payment_id]
        # How Chargeguard's recovery finds a payment once Xero forgot the key.
        found = accounting.get_payments(made["tenant"], where='Reference!=null AND Reference.Contains("cg-k-1")').payments
        assert [p.payment_id for p in found] == [first.payment_id]
        assert not accounting.get_payments(made["tenant"], where='Reference!=null AND Reference.StartsWith("cg-k-1")').payments
        try:
            accounting.get_payments(made["tenant"], where='Reference.Contains("cg-k-1")')
            raise AssertionError("a string method on an optional field needs a null guard")
        except AccountingBadRequestException as e:
            assert "null guard" in str(e), str(e)
        try:
            pay("cg-k-2")
            raise AssertionError("a paid invoice takes no second payment")
        except AccountingBadRequestException as e:
            assert "Authorised" in e.reason, e.reason
        made["payment"] = first

    check("a payment sent twice under one Idempotency-Key is made once", idempotent_payment)

    def delete_and_void():
        tenant = made["tenant"]
        try:
            accounting.update_invoice(tenant, made["INV-2001"].invoice_id, Invoices(invoices=[Invoice(status="VOIDED")]))
            raise AssertionError("a paid invoice is not voided")
        except AccountingBadRequestException as e:
            assert "payments" in e.reason, e.reason
        deleted = accounting.delete_payment(tenant, made["payment"].payment_id, PaymentDelete(status="DELETED")).payments[0]
        assert deleted.status == "DELETED"
        invoice = accounting.get_invoice(tenant, made["INV-2001"].invoice_id).invoices[0]
        assert invoice.status == "AUTHORISED" and invoice.amount_due == Decimal("100.50")
        voided = accounting.update_invoice(tenant, invoice.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])).invoices[0]
        assert voided.status == "VOIDED" and voided.total == Decimal("100.50") and voided.amount_due == 0

    check("a deleted payment reopens its invoice, which can then be voided", delete_and_void)

    def credit_refund():
        tenant = made["tenant"]
        note = CreditNote(
            type="ACCRECCREDIT",
            contact=Contact(contact_id=made["contact"].contact_id),
            line_items=[LineItem(description="Refund", quantity=1.0, unit_amount=12.34, account_code="200")],
            date=datetime.date(2026, 12, 6),
            status="AUTHORISED",
        )
        created = accounting.create_credit_notes(tenant, CreditNotes(credit_notes=[note])).credit_notes[0]
        assert created.total == Decimal("12.34") and created.remaining_credit == Decimal("12.34"), created
        refund = Payment(
            credit_note=CreditNote(credit_note_id=created.credit_note_id),
            account=Account(code="090"),
            amount=12.34,
            date=datetime.date(2026, 12, 6),
            reference="re_3OaFDbEcg9tTZuTg1x",
        )
        paid = accounting.create_payment(tenant, refund, idempotency_key="cg-refund-1").payments[0]
        assert paid.payment_type == "ARCREDITPAYMENT", paid.payment_type
        assert paid.credit_note.credit_note_id == created.credit_note_id
        after = accounting.get_credit_note(tenant, created.credit_note_id).credit_notes[0]
        assert after.status == "PAID" and after.remaining_credit == 0, after
        listed = accounting.get_payments(tenant, where='Reference!=null AND Reference.StartsWith("re_")').payments
        assert [p.payment_id for p in listed] == [paid.payment_id]
        accounting.delete_payment(tenant, paid.payment_id, PaymentDelete(status="DELETED"))
        again = accounting.get_credit_note(tenant, created.credit_note_id).credit_notes[0]
        assert again.status == "AUTHORISED" and again.remaining_credit == Decimal("12.34"), again

    check("a credit note's credit is refunded in cash, and the refund deleted", credit_refund)

    def lock_date():
        requests.post(base + "/_sandbox/xero/lock", json={"tenant": made["tenant"], "period_lock_date": "2026-11-30"}).raise_for_status()
        organisation = accounting.get_organisations(made["tenant"]).organisations[0]
        assert organisation.period_lock_date == datetime.date(2026, 11, 30), organisation.period_lock_date
        late = Invoice(
            type="ACCREC",
            contact=Contact(contact_id=made["contact"].contact_id),
            line_items=[LineItem(description="Late", quantity=1.0, unit_amount=5.0, account_code="200")],
            date=datetime.date(2026, 11, 30),
            status="AUTHORISED",
        )
        try:
            accounting.create_invoices(made["tenant"], Invoices(invoices=[late]))
            raise AssertionError("the lock date refuses the invoice")
        except AccountingBadRequestException as e:
            assert "lock date" in e.reason, e.reason

    check("a document dated on or before the lock date is refused", lock_date)

    def refresh():
        requests.post(base + "/_sandbox/xero/expire_tokens").raise_for_status()
        try:
            accounting.get_invoices(made["tenant"], page=1)
            raise AssertionError("an expired token is refused")
        except HTTPStatusException as e:
            assert e.status == 401, e.status
        old = token["refresh_token"]
        api_client.refresh_oauth2_token()
        assert token["refresh_token"] != old, "refresh tokens rotate"
        assert len(accounting.get_invoices(made["tenant"], page=1).invoices) == 2

    check("an expired access token is refused until refreshed", refresh)

    def revoke():
        api_client.revoke_oauth2_token()
        try:
            identity.get_connections()
            raise AssertionError("a revoked grant answers nothing")
        except HTTPStatusException as e:
            assert e.status == 401, e.status

    check("revoking ends the grant", revoke)
finally:
    sandbox.terminate()
    sandbox.wait()

print(f"xero-python: {checks.passed} checks passed")
sys.exit(0)
