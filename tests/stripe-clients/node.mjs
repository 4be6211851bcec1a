// Stripe's official Node client (npm `stripe`), unchanged, against the sandbox gateway
// started from the real binary: whatever this client does with Stripe must work, and
// answer, the same here. The keys Stripe always sends are read from the client's own
// types (a field without `?` in `esm/resources/*.d.ts`), not written down by us.
//
//   CHARGEGUARD_BIN=target/release/chargeguard node tests/stripe-clients/node.mjs

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import Stripe from "stripe";

const bin = process.env.CHARGEGUARD_BIN;
if (!bin) throw new Error("set CHARGEGUARD_BIN to the chargeguard binary");

const state = mkdtempSync(join(tmpdir(), "cg-stripe-node-"));
const sandbox = spawn(bin, ["sandbox", "serve", "--state", state], {
  stdio: ["ignore", "pipe", "inherit"],
});
const address = await new Promise((resolve, reject) => {
  sandbox.on("exit", (code) => reject(new Error(`the sandbox exited (${code}) before listening`)));
  createInterface({ input: sandbox.stdout }).on("line", (line) => {
    const url = line.match(/^listening on (http:\/\/\S+)/)?.[1];
    if (url) resolve(new URL(url));
  });
});

const stripe = new Stripe("sk_test_stripe_node_client", {
  host: address.hostname,
  port: address.port,
  protocol: "http",
  maxNetworkRetries: 2,
});

/** The keys the client's types say Stripe always sends on `object`. */
function alwaysSent(file, name) {
  const types = readFileSync(new URL(`./node_modules/stripe/esm/resources/${file}.d.ts`, import.meta.url), "utf8");
  const start = types.indexOf(`export interface ${name} {`);
  assert.ok(start >= 0, `${name} in ${file}.d.ts`);
  const body = types.slice(start, types.indexOf("\n}", start));
  // Top-level fields only: four spaces of indent, a name, no `?`.
  return [...body.matchAll(/^    ([a-z_0-9]+): /gm)].map((m) => m[1]);
}

function hasEveryKey(object, file, name) {
  const missing = alwaysSent(file, name).filter((key) => !(key in object));
  assert.deepEqual(missing, [], `${name} ${object.id} lacks keys Stripe always sends`);
}

let failures = 0;
async function check(what, body) {
  try {
    await body();
    console.log(`ok   ${what}`);
  } catch (e) {
    failures += 1;
    console.log(`FAIL ${what}\n${e.stack ?? e}`);
  }
}

async function rejects(promise, expected) {
  try {
    await promise;
  } catch (e) {
    for (const [k, v] of Object.entries(expected)) assert.equal(e[k], v, `${k} of ${e.message}`);
    return e;
  }
  assert.fail(`expected an error ${JSON.stringify(expected)}`);
}

try {
  const customer = await stripe.customers.create({ email: "ada@example.com", payment_method: "pm_card_visa" });
  const intent = await stripe.paymentIntents.create({
    amount: 2000,
    currency: "usd",
    customer: customer.id,
    payment_method: "pm_card_visa",
    confirm: true,
    metadata: { invoice_number: "INV-1" },
  });

  await check("a confirmed payment intent succeeds with its charge", async () => {
    assert.equal(intent.status, "succeeded");
    assert.match(intent.latest_charge, /^ch_/);
  });

  await check("objects carry every key the client's types say Stripe always sends", async () => {
    const charge = await stripe.charges.retrieve(intent.latest_charge);
    hasEveryKey(charge, "Charges", "Charge");
    hasEveryKey(intent, "PaymentIntents", "PaymentIntent");
    hasEveryKey(customer, "Customers", "Customer");
    hasEveryKey(await stripe.paymentMethods.retrieve(intent.payment_method), "PaymentMethods", "PaymentMethod");
    const refund = await stripe.refunds.create({ charge: charge.id, amount: 300 });
    hasEveryKey(refund, "Refunds", "Refund");
    assert.equal(refund.customer, customer.id);
  });

  await check("a charge carries its refunds only when expanded", async () => {
    const charge = await stripe.charges.retrieve(intent.latest_charge);
    assert.ok(!("refunds" in charge), "refunds sent unasked");
    const expanded = await stripe.charges.retrieve(intent.latest_charge, { expand: ["refunds"] });
    assert.equal(expanded.refunds.data.length, 1);
    assert.equal(expanded.refunds.data[0].amount, 300);
  });

  await check("expanding what cannot be expanded is a 400", async () => {
    const e = await rejects(stripe.charges.retrieve(intent.latest_charge, { expand: ["currency"] }), {
      type: "StripeInvalidRequestError",
      statusCode: 400,
    });
    assert.equal(e.raw.message, "This property cannot be expanded (currency).");
    const deep = await stripe.paymentIntents.retrieve(intent.id, { expand: ["latest_charge.customer"] });
    assert.equal(deep.latest_charge.customer.id, customer.id);
  });

  await check("charges, payment intents and refunds update", async () => {
    const charge = await stripe.charges.update(intent.latest_charge, {
      description: "Invoice INV-1",
      metadata: { order: "ORD-1" },
    });
    assert.equal(charge.description, "Invoice INV-1");
    assert.deepEqual(charge.metadata, { invoice_number: "INV-1", order: "ORD-1" });
    const e = await rejects(stripe.paymentIntents.update(intent.id, { amount: 5000 }), {
      type: "StripeInvalidRequestError",
      code: "payment_intent_unexpected_state",
      param: "amount",
    });
    assert.equal(e.raw.payment_intent.amount, 2000);
    const renamed = await stripe.paymentIntents.update(intent.id, { description: "renamed" });
    assert.equal(renamed.description, "renamed");
    const [refund] = (await stripe.refunds.list({ charge: intent.latest_charge })).data;
    const noted = await stripe.refunds.update(refund.id, { metadata: { ticket: "T-1" } });
    assert.equal(noted.metadata.ticket, "T-1");
  });

  await check("amounts outside Stripe's limits are refused, with doc_url", async () => {
    const pay = (amount, currency) =>
      stripe.paymentIntents.create({ amount, currency, payment_method: "pm_card_visa", confirm: true });
    const small = await rejects(pay(49, "usd"), { code: "amount_too_small", param: "amount" });
    assert.equal(small.doc_url, "https://stripe.com/docs/error-codes/amount-too-small");
    await rejects(pay(100_000_000, "usd"), { code: "amount_too_large" });
    await rejects(pay(1235, "kwd"), { type: "StripeInvalidRequestError", param: "amount" });
    assert.equal((await pay(1230, "kwd")).status, "succeeded");
  });

  await check("a declined card is a card error with its codes", async () => {
    const e = await rejects(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: "usd",
        payment_method: "pm_card_chargeDeclinedInsufficientFunds",
        confirm: true,
      }),
      { type: "StripeCardError", code: "card_declined", decline_code: "insufficient_funds" },
    );
    assert.equal(e.doc_url, "https://stripe.com/docs/error-codes/card-declined");
    assert.equal(e.raw.payment_intent.status, "requires_payment_method");
  });

  await check("an idempotency key replays the first answer", async () => {
    const once = { amount: 700, currency: "usd", payment_method: "pm_card_visa", confirm: true };
    const first = await stripe.paymentIntents.create(once, { idempotencyKey: "cg-node-1" });
    const again = await stripe.paymentIntents.create(once, { idempotencyKey: "cg-node-1" });
    assert.equal(again.id, first.id);
    await rejects(stripe.paymentIntents.create({ ...once, amount: 800 }, { idempotencyKey: "cg-node-1" }), {
      type: "StripeIdempotencyError",
    });
  });

  await check("auto-pagination visits every charge once", async () => {
    const charges = await stripe.charges.list({ limit: 2 }).autoPagingToArray({ limit: 1000 });
    const ids = new Set(charges.map((c) => c.id));
    assert.equal(ids.size, charges.length);
    assert.equal(charges.length, 4, "20.00 USD, 1.230 KWD, the decline and 7.00 USD");
    const found = await stripe.charges.search({ query: "metadata['invoice_number']:'INV-1'" });
    assert.deepEqual(
      found.data.map((c) => c.id),
      [intent.latest_charge],
    );
  });
  await check("payouts sweep the balance, and their transactions add up to them", async () => {
    const before = await stripe.balanceTransactions.list({ type: "charge", limit: 100 }).autoPagingToArray({ limit: 1000 });
    assert.ok(before.length >= 3, "a transaction for each succeeded charge");
    hasEveryKey(before[0], "BalanceTransactions", "BalanceTransaction");
    const run = await fetch(new URL("/_sandbox/payouts", address), { method: "POST", body: "{}" });
    assert.equal(run.status, 200, await run.clone().text());
    const payouts = await stripe.payouts.list({ status: "paid" });
    assert.ok(payouts.data.length >= 1);
    for (const payout of payouts.data) {
      hasEveryKey(payout, "Payouts", "Payout");
      const lines = await stripe.balanceTransactions
        .list({ payout: payout.id, limit: 2 })
        .autoPagingToArray({ limit: 1000 });
      assert.equal(
        lines.reduce((sum, t) => sum + t.net, 0),
        0,
        `${payout.id}'s lines cancel out`,
      );
      const own = await stripe.balanceTransactions.retrieve(payout.balance_transaction, { expand: ["source"] });
      assert.equal(own.source.id, payout.id);
      assert.equal(own.amount, -payout.amount);
    }
  });
  await check("a pending manual payout is canceled and its money comes back", async () => {
    await stripe.paymentIntents.create({ amount: 3000, currency: "usd", payment_method: "pm_card_visa", confirm: true });
    const manual = await stripe.payouts.create({ amount: 1000, currency: "usd" });
    assert.equal(manual.status, "pending");
    const canceled = await stripe.payouts.cancel(manual.id);
    hasEveryKey(canceled, "Payouts", "Payout");
    assert.equal(canceled.status, "canceled");
    const back = await stripe.balanceTransactions.retrieve(canceled.failure_balance_transaction);
    assert.deepEqual([back.type, back.amount, back.source], ["payout_cancel", 1000, manual.id]);
    await assert.rejects(stripe.payouts.cancel(manual.id), (e) => e.type === "StripeInvalidRequestError");
  });
  await check("the balance is every transaction's net, available or pending", async () => {
    const balance = await stripe.balance.retrieve();
    hasEveryKey(balance, "Balance", "Balance");
    const all = await stripe.balanceTransactions.list({ limit: 100 }).autoPagingToArray({ limit: 10000 });
    for (const currency of new Set(all.map((t) => t.currency))) {
      const held = (list) => list.filter((b) => b.currency === currency).reduce((sum, b) => sum + b.amount, 0);
      assert.equal(
        held(balance.available) + held(balance.pending),
        all.filter((t) => t.currency === currency).reduce((sum, t) => sum + t.net, 0),
        currency,
      );
    }
  });
  await check("a dispute card's charge is charged back, and evidence decides the dispute", async () => {
    const disputedIntent = await stripe.paymentIntents.create({
      amount: 4200,
      currency: "usd",
      payment_method: "pm_card_createDispute",
      confirm: true,
    });
    const found = await stripe.disputes.list({ charge: disputedIntent.latest_charge });
    assert.equal(found.data.length, 1);
    const dispute = found.data[0];
    hasEveryKey(dispute, "Disputes", "Dispute");
    assert.equal(dispute.status, "needs_response");
    assert.equal(dispute.balance_transactions[0].net, -4200 - 1500);
    hasEveryKey(dispute.balance_transactions[0], "BalanceTransactions", "BalanceTransaction");
    const e = await rejects(stripe.refunds.create({ charge: disputedIntent.latest_charge }), {
      type: "StripeInvalidRequestError",
      statusCode: 400,
      code: "charge_disputed",
    });
    assert.match(e.raw.doc_url, /charge-disputed/);
    const won = await stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: "winning_evidence" } });
    assert.equal(won.status, "won");
    assert.equal(won.balance_transactions[1].reporting_category, "dispute_reversal");
    const again = await rejects(stripe.disputes.close(dispute.id), { statusCode: 400 });
    assert.equal(again.raw.message, "This dispute is already closed");

    const inquiryIntent = await stripe.paymentIntents.create({
      amount: 900,
      currency: "usd",
      payment_method: "pm_card_createDisputeInquiry",
      confirm: true,
    });
    const [inquiry] = (await stripe.disputes.list({ payment_intent: inquiryIntent.id })).data;
    assert.equal(inquiry.status, "warning_needs_response");
    const closed = await stripe.disputes.close(inquiry.id, { expand: ["charge"] });
    assert.equal(closed.status, "warning_closed");
    assert.equal(closed.charge.disputed, true);
    const all = await stripe.disputes.list({ limit: 1 }).autoPagingToArray({ limit: 100 });
    assert.ok(all.length >= 2);
  });
} finally {
  sandbox.kill();
  rmSync(state, { recursive: true, force: true });
}

if (failures > 0) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("Stripe's Node client: every check passed");
