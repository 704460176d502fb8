// The official ACL JavaScript client (@azure-rest/confidential-ledger 1.0.0) signing in with a TokenCredential, as an
// application written for Azure Confidential Ledger does with Entra ID: here the credential gets client-credential
// tokens from a test OIDC issuer over HTTPS (its CA trusted), and the client is otherwise unmodified.
// Environment: VELLUM_ENDPOINT, VELLUM_SERVICE_CERT, VELLUM_TOKEN_URL, VELLUM_TOKEN_CA, VELLUM_CLIENT_ID,
// VELLUM_CLIENT_SECRET. Exits 0 when every step behaved; prints one JSON line.
"use strict";
const { default: ConfidentialLedger, isUnexpected, paginate } = require("@azure-rest/confidential-ledger");

const { env, read, check, sleep, clientCredential } = require("./common");

async function main() {
  const credential = clientCredential(env("VELLUM_TOKEN_URL"), read("VELLUM_TOKEN_CA"), env("VELLUM_CLIENT_ID"), env("VELLUM_CLIENT_SECRET"));
  const client = ConfidentialLedger(env("VELLUM_ENDPOINT"), read("VELLUM_SERVICE_CERT"), credential);
  const steps = [];

  const ids = [];
  for (let i = 0; i < 3; i++) {
    const post = await client.path("/app/transactions").post({ body: { contents: `token entry ${i}` }, queryParameters: { collectionId: "token-collection" }, contentType: "application/json" });
    check(!isUnexpected(post), `post: ${post.status} ${JSON.stringify(post.body)}`);
    ids.push(post.headers["x-ms-ccf-transaction-id"]);
  }
  steps.push("post");

  for (let i = 0; i < ids.length; i++) {
    let entry;
    for (let attempt = 0; attempt < 100; attempt++) {
      entry = await client.path("/app/transactions/{transactionId}", ids[i]).get();
      check(!isUnexpected(entry), `get: ${entry.status} ${JSON.stringify(entry.body)}`);
      if (entry.body.state === "Ready") break;
      await sleep(50);
    }
    check(entry.body.entry.contents === `token entry ${i}`, `read back: ${JSON.stringify(entry.body)}`);
  }
  steps.push("get");

  const listed = [];
  const pages = paginate(client, await client.path("/app/transactions").get({ queryParameters: { collectionId: "token-collection" } }));
  for await (const item of pages) listed.push(item.contents);
  check(listed.length === 3 && listed[2] === "token entry 2", `list: ${JSON.stringify(listed)}`);
  steps.push("list");

  let receipt;
  for (let attempt = 0; attempt < 100; attempt++) {
    receipt = await client.path("/app/transactions/{transactionId}/receipt", ids[2]).get();
    check(!isUnexpected(receipt), `receipt: ${receipt.status} ${JSON.stringify(receipt.body)}`);
    if (receipt.body.state === "Ready") break;
    await sleep(50);
  }
  check(receipt.body.receipt && receipt.body.receipt.signature, `receipt body: ${JSON.stringify(receipt.body)}`);
  steps.push("receipt");

  // The credential was asked once and its token reused, as Azure's clients do until it nears expiry.
  check(credential.requests >= 1, "the credential was never asked for a token");
  console.log(JSON.stringify({ ok: true, steps, tokenRequests: credential.requests }));
}

main().catch((error) => { console.log(JSON.stringify({ ok: false, error: String(error && error.stack || error) })); process.exit(1); });
