// Drives a running Vellum node with the official ACL JavaScript client (@azure-rest/confidential-ledger 1.0.0),
// exactly as an application written for Azure Confidential Ledger would, changing only endpoint and certificates.
// Environment: VELLUM_ENDPOINT, VELLUM_SERVICE_CERT, VELLUM_ADMIN_CERT, VELLUM_ADMIN_KEY, VELLUM_READER_CERT,
// VELLUM_READER_KEY, VELLUM_READER_ID, VELLUM_RECEIPTS_OUT. Exits 0 when every step behaved; prints one JSON line.
"use strict";
const fs = require("fs");
const { default: ConfidentialLedger, isUnexpected, paginate } = require("@azure-rest/confidential-ledger");

const { env, read, check, sleep } = require("./common");

async function main() {
  const endpoint = env("VELLUM_ENDPOINT");
  const serviceCert = read("VELLUM_SERVICE_CERT");
  const admin = ConfidentialLedger(endpoint, serviceCert, { tlsOptions: { cert: read("VELLUM_ADMIN_CERT"), key: read("VELLUM_ADMIN_KEY") } });
  const steps = [];

  // Write with and without collectionId.
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const post = await admin.path("/app/transactions").post({ body: { contents: `js entry ${i}` }, contentType: "application/json" });
    check(!isUnexpected(post), `post without collection: ${post.status} ${JSON.stringify(post.body)}`);
    check(post.body.collectionId === "subledger:0", `default collection: ${JSON.stringify(post.body)}`);
    ids.push(post.headers["x-ms-ccf-transaction-id"]);
  }
  const inCollection = [];
  for (let i = 0; i < 120; i++) {
    const post = await admin.path("/app/transactions").post({ body: { contents: `js paged ${i}` }, queryParameters: { collectionId: "js-collection" }, contentType: "application/json" });
    check(!isUnexpected(post), `post in collection: ${post.status}`);
    inCollection.push(post.headers["x-ms-ccf-transaction-id"]);
  }
  steps.push("post");

  // Read back.
  for (let i = 0; i < ids.length; i++) {
    let entry;
    for (let attempt = 0; attempt < 50; attempt++) {
      entry = await admin.path("/app/transactions/{transactionId}", ids[i]).get();
      check(!isUnexpected(entry), `get: ${entry.status}`);
      if (entry.body.state === "Ready") break;
      await sleep(50);
    }
    check(entry.body.entry.contents === `js entry ${i}`, `read back: ${JSON.stringify(entry.body)}`);
    check(entry.body.entry.transactionId === ids[i], "transaction id");
  }
  const current = await admin.path("/app/transactions/current").get({ queryParameters: { collectionId: "js-collection" } });
  check(!isUnexpected(current) && current.body.contents === "js paged 119", `current: ${JSON.stringify(current.body)}`);
  steps.push("get");

  // Poll status until Committed.
  const last = inCollection[inCollection.length - 1];
  let status;
  for (let attempt = 0; attempt < 100; attempt++) {
    status = await admin.path("/app/transactions/{transactionId}/status", last).get();
    check(!isUnexpected(status), `status: ${status.status}`);
    if (status.body.state === "Committed") break;
    await sleep(50);
  }
  check(status.body.state === "Committed", `never committed: ${JSON.stringify(status.body)}`);
  steps.push("status");

  // Several pages through paginate (it follows nextLink and appends api-version a second time).
  const first = await admin.path("/app/transactions").get({ queryParameters: { collectionId: "js-collection" } });
  check(!isUnexpected(first), `list: ${first.status}`);
  check(typeof first.body.nextLink === "string", "first page has a nextLink");
  const listed = [];
  for await (const entry of paginate(admin, first)) listed.push(entry.transactionId);
  check(JSON.stringify(listed) === JSON.stringify(inCollection), `paged list differs: ${listed.length} vs ${inCollection.length}`);
  steps.push("paginate");

  // Receipts, handed to the C# side to verify with our verifier.
  const receipts = [];
  for (const id of [ids[0], ids[4], inCollection[0], last]) {
    let receipt;
    for (let attempt = 0; attempt < 100; attempt++) {
      receipt = await admin.path("/app/transactions/{transactionId}/receipt", id).get();
      check(!isUnexpected(receipt), `receipt: ${receipt.status}`);
      if (receipt.body.state === "Ready") break;
      await sleep(50);
    }
    check(receipt.body.state === "Ready", "receipt ready");
    receipts.push(receipt.body);
  }
  fs.writeFileSync(env("VELLUM_RECEIPTS_OUT"), JSON.stringify(receipts));
  steps.push("receipt");

  // Users: PATCH (merge-patch), GET, then the reader is refused a write with the ACL error shape, then DELETE.
  // Client 1.0.0 quirk: isUnexpected() matches /app/users/{userId} to the DELETE entry (204) whatever the method,
  // so for GET and PATCH on users it reports 200 as unexpected; these steps check the status themselves.
  const readerId = env("VELLUM_READER_ID");
  const patch = await admin.path("/app/users/{userId}", readerId).patch({ body: { assignedRole: "Reader" }, contentType: "application/merge-patch+json" });
  check(patch.status === "200" && patch.body.assignedRole === "Reader", `patch user: ${patch.status} ${JSON.stringify(patch.body)}`);
  const user = await admin.path("/app/users/{userId}", readerId).get();
  check(user.status === "200" && user.body.assignedRole === "Reader" && user.body.userId === readerId, `get user: ${JSON.stringify(user.body)}`);
  const reader = ConfidentialLedger(endpoint, serviceCert, { tlsOptions: { cert: read("VELLUM_READER_CERT"), key: read("VELLUM_READER_KEY") } });
  const readerRead = await reader.path("/app/transactions/{transactionId}", ids[0]).get();
  check(!isUnexpected(readerRead), `reader read: ${readerRead.status}`);
  const denied = await reader.path("/app/transactions").post({ body: { contents: "not allowed" }, contentType: "application/json" });
  check(isUnexpected(denied) && denied.status === "403" && denied.body.error.code === "NotAllowed" && typeof denied.body.error.message === "string",
    `403 shape: ${denied.status} ${JSON.stringify(denied.body)}`);
  const removed = await admin.path("/app/users/{userId}", readerId).delete();
  check(removed.status === "204", `delete user: ${removed.status}`);
  const gone = await admin.path("/app/users/{userId}", readerId).get();
  check(gone.status === "404" && gone.body.error.code === "UserNotFound", `deleted user: ${gone.status}`);
  steps.push("users");

  // An oversized entry: 400 with the ACL error shape.
  const big = await admin.path("/app/transactions").post({ body: { contents: "x".repeat(8193) }, contentType: "application/json" });
  check(isUnexpected(big) && big.status === "400" && big.body.error.code === "EntrySizeCapacityExceeded", `oversized: ${big.status} ${JSON.stringify(big.body)}`);
  steps.push("limits");

  // Governance and quotes through the typed routes.
  const constitution = await admin.path("/app/governance/constitution").get();
  check(!isUnexpected(constitution) && typeof constitution.body.digest === "string", "constitution");
  const members = await admin.path("/app/governance/members").get();
  check(!isUnexpected(members) && members.body.members.length >= 1, "members");
  const quotes = await admin.path("/app/enclaveQuotes").get();
  check(!isUnexpected(quotes) && typeof quotes.body.currentNodeId === "string", "quotes");
  const collections = await admin.path("/app/collections").get();
  check(!isUnexpected(collections) && collections.body.collections.some((c) => c.collectionId === "js-collection"), "collections");
  steps.push("governance");

  console.log(JSON.stringify({ ok: true, steps, entries: ids.length + inCollection.length }));
}

main().catch((error) => {
  console.log(JSON.stringify({ ok: false, error: String(error && error.stack || error) }));
  process.exit(1);
});
