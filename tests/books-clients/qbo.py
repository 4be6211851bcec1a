"""python-quickbooks and intuit-oauth, unchanged (pinned in requirements.txt), against the
sandbox's QuickBooks Online stand-in started from the real binary: Intuit's OAuth flow,
customers, invoices and payments written and read back, queries, change data capture,
requestid idempotency, SyncToken, the book close date, voids, token expiry, refresh and
revocation. Whatever these clients do with QuickBooks must work, and answer, the same here.

    CHARGEGUARD_BIN=target/release/chargeguard python tests/books-clients/qbo.py
"""

import os
import sys
import urllib.parse

# The stand-in speaks plain HTTP on loopback; requests-oauthlib refuses that unless told.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

from harness import Checks, start_sandbox  # noqa: E402
import requests  # noqa: E402
from intuitlib.client import AuthClient  # noqa: E402
from intuitlib.enums import Scopes  # noqa: E402
from intuitlib.exceptions import AuthClientError  # noqa: E402
from quickbooks import QuickBooks  # noqa: E402
from quickbooks.cdc import change_data_capture  # noqa: E402
from quickbooks.exceptions import (  # noqa: E402
    AuthorizationException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.base import LinkedTxn  # noqa: E402
from quickbooks.objects.customer import Customer  # noqa: E402
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail  # noqa: E402
from quickbooks.objects.invoice import Invoice  # noqa: E402
from quickbooks.objects.payment import Payment, PaymentLine  # noqa: E402

checks = Checks()
check = checks.check
sandbox, base = start_sandbox("cg-qbo-python-")
try:
    REDIRECT = "http://localhost:8765/callback"

    def new_auth():
        return AuthClient(
            client_id="cg-desktop",
            client_secret="cg-secret",
            redirect_uri=REDIRECT,
            environment=base + "/.well-known/openid_configuration",
        )

    auth = new_auth()
    realm = None

    def connect():
        global realm
        url = auth.get_authorization_url([Scopes.ACCOUNTING])
        answer = requests.get(url, allow_redirects=False)
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(REDIRECT), location
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(location).query))
        assert query["state"] == auth.state_token
        realm = query["realmId"]
        auth.get_bearer_token(query["code"], realm_id=realm)
        assert auth.access_token and auth.refresh_token
        assert auth.expires_in == 3600
        try:
            auth.get_bearer_token(query["code"], realm_id=realm)
            raise AssertionError("a code works once")
        except AuthClientError as e:
            assert e.status_code == 400

    check("the authorization code flow gives tokens for the company", connect)

    def client():
        qb = QuickBooks(
            auth_client=auth,
            refresh_token=auth.refresh_token,
            company_id=realm,
            minorversion=75,
        )
        qb.api_url_v3 = base + "/v3"
        return qb

    qb = client()
    made = {}

    def customers_and_invoices():
        customer = Customer()
        customer.DisplayName = "Amy's Bird Sanctuary"
        customer = customer.save(qb=qb)
        assert customer.Id
        made["customer"] = customer
        for number, amount in [("INV-1001", 100.50), ("INV-1002", 362.07)]:
            invoice = Invoice()
            line = SalesItemLine()
            line.Amount = amount
            line.SalesItemLineDetail = SalesItemLineDetail()
            invoice.Line = [line]
            invoice.CustomerRef = customer.to_ref()
            invoice.DocNumber = number
            # save() answers the object QBO made (and sets only Id on the one sent).
            invoice = invoice.save(qb=qb)
            assert invoice.Id and invoice.SyncToken == "0", invoice.to_json()
            assert invoice.TotalAmt == amount and invoice.Balance == amount
            made[number] = invoice
        again = Invoice()
        again.Line = made["INV-1001"].Line
        again.CustomerRef = customer.to_ref()
        again.DocNumber = "INV-1001"
        try:
            again.save(qb=qb)
            raise AssertionError("a document number is used once")
        except QuickbooksException as e:
            assert e.error_code == 6140, e.detail

    check("customers and invoices are created with QBO's totals", customers_and_invoices)

    def queries():
        found = Invoice.filter(DocNumber="INV-1002", qb=qb)
        assert [i.Id for i in found] == [made["INV-1002"].Id]
        assert Invoice.count(qb=qb) == 2
        assert len(Invoice.all(qb=qb)) == 2
        first_page = Invoice.where("", order_by="DocNumber", start_position=1, max_results=1, qb=qb)
        assert [i.DocNumber for i in first_page] == ["INV-1001"]
        since = made["INV-1001"].MetaData.CreateTime
        recent = Invoice.where(f"MetaData.LastUpdatedTime >= '{since}'", qb=qb)
        assert len(recent) == 2
        assert Invoice.where("DocNumber = 'INV-404'", qb=qb) == []
        try:
            Invoice.where("Id = '1' OR Id = '2'", qb=qb)
            raise AssertionError("OR is refused")
        except ValidationException as e:
            assert e.error_code == 4000

    check("queries filter, count, order and page", queries)

    def pay(request_id):
        payment = Payment()
        payment.TotalAmt = 100.50
        payment.CustomerRef = made["customer"].to_ref()
        line = PaymentLine()
        line.Amount = 100.50
        link = LinkedTxn()
        link.TxnId = made["INV-1001"].Id
        link.TxnType = "Invoice"
        line.LinkedTxn = [link]
        payment.Line = [line]
        payment.PrivateNote = "chargeguard:" + request_id
        return payment.save(qb=qb, request_id=request_id)

    def idempotent_payment():
        first = pay("cg-7f3a-1")
        second = pay("cg-7f3a-1")
        assert first.Id == second.Id, (first.Id, second.Id)
        assert Payment.count(qb=qb) == 1
        invoice = Invoice.get(made["INV-1001"].Id, qb=qb)
        assert invoice.Balance == 0, invoice.Balance
        assert [(l.TxnId, l.TxnType) for l in invoice.LinkedTxn] == [(first.Id, "Payment")]
        found = Payment.where("Id = '%s'" % first.Id, qb=qb)
        assert found[0].PrivateNote == "chargeguard:cg-7f3a-1"
        made["payment"] = first

    check("a payment sent twice under one requestid is made once", idempotent_payment)

    def stale():
        old = made["INV-1002"]
        fresh = Invoice.get(old.Id, qb=qb)
        fresh.PrivateNote = "first edit"
        assert fresh.save(qb=qb).SyncToken == "1"
        old.PrivateNote = "an edit on the old copy"
        try:
            old.save(qb=qb)
            raise AssertionError("a stale SyncToken is refused")
        except QuickbooksException as e:
            assert e.error_code == 5010, e.detail

    check("an update on a stale SyncToken is refused", stale)

    def void_payment():
        payment = Payment.get(made["payment"].Id, qb=qb)
        payment.void(qb=qb)
        voided = Payment.get(payment.Id, qb=qb)
        assert voided.TotalAmt == 0 and voided.PrivateNote.startswith("Voided")
        assert Invoice.get(made["INV-1001"].Id, qb=qb).Balance == 100.5

    check("a voided payment gives its invoice its balance back", void_payment)

    def cdc():
        since = made["customer"].MetaData["CreateTime"]
        changed = change_data_capture([Invoice, Payment], since, qb=qb)
        assert {i.DocNumber for i in changed.Invoice} == {"INV-1001", "INV-1002"}
        assert [p.Id for p in changed.Payment] == [made["payment"].Id]

    check("change data capture lists what changed since a time", cdc)

    def closed_books():
        requests.post(base + "/_sandbox/qbo/close_books", json={"realm": realm, "date": "2026-10-31"}).raise_for_status()
        late = Invoice()
        late.Line = made["INV-1002"].Line
        late.CustomerRef = made["customer"].to_ref()
        late.TxnDate = "2026-10-31"
        try:
            late.save(qb=qb)
            raise AssertionError("the closed period refuses the invoice")
        except QuickbooksException as e:
            assert e.error_code == 6210 and "closed" in e.detail, e.detail
        late.TxnDate = "2026-11-01"
        late.save(qb=qb)

    check("a transaction dated in a closed period is refused with 6210", closed_books)

    def refresh():
        requests.post(base + "/_sandbox/qbo/expire_tokens").raise_for_status()
        try:
            Invoice.count(qb=qb)
            raise AssertionError("an expired token is refused")
        except AuthorizationException:
            pass
        old_refresh = auth.refresh_token
        auth.refresh()
        assert auth.refresh_token != old_refresh, "refresh tokens rotate"
        assert Invoice.count(qb=client()) == 3

    check("an expired access token is refused until refreshed", refresh)

    def revoke():
        assert auth.revoke(token=auth.refresh_token)
        try:
            Invoice.count(qb=client())
            raise AssertionError("a revoked grant answers nothing")
        except AuthorizationException:
            pass
        try:
            auth.refresh()
            raise AssertionError("a revoked grant cannot refresh")
        except AuthClientError as e:
            assert e.status_code == 400

    check("revoking ends the grant", revoke)
finally:
    sandbox.terminate()
    sandbox.wait()

print(f"python-quickbooks and intuit-oauth: {checks.passed} checks passed")
sys.exit(0)
