// Two ledgers on one Vellum node, driven with the official ACL JavaScript client (@azure-rest/confidential-ledger
// 1.0.0), each at its own host name as an application written for ACL would address two ledgers. The names do not
// resolve here, so every connection is pointed at 127.0.0.1 through Node's own `lookup` TLS option; the TLS server
// name and Host stay the ledger's. Environment: VELLUM_PORT, VELLUM_ALPHA_CERT, VELLUM_BETA_CERT (service
// certificates), VELLUM_ADMIN_CERT, VELLUM_ADMIN_KEY, VELLUM_READER_CERT, VELLUM_READER_KEY, VELLUM_READER_ID,
// VELLUM_RECEIPTS_OUT. Exits 0 when every step behaved; prints one JSON line.
"use strict";
const fs = require("fs");
const { default: ConfidentialLedger, isUnexpected } = require("@azure-rest/confidential-ledger");

const { env, read, check, sleep } = require("./common");

// Every *.localhost name is 127.0.0.1 (Node asks for all addresses when it may try several families).
const lookup = (hostname, options, callback) => {
  if (!hostname.endsWith(".localhost")) throw new Error(`unexpected host ${hostname}`);
  if (options && options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

const client = (ledger, certVar, keyVar) => ConfidentialLedger(
  `https://${ledger}.localhost:${env("VELLUM_PORT")}`, read(ledger === "alpha" ? "VELLUM_ALPHA_CERT" : "VELLUM_BETA_CERT"),
  { tlsOptions: { cert: read(certVar), key: read(keyVar), lookup } });

async function committedReceipt(ledgerClient, id) {
  let receipt;
  for (let attempt = 0; attempt < 100; attempt++) {
    receipt = await ledgerClient.path("/app/transactions/{transactionId}/receipt", id).get();
    check(!isUnexpected(receipt), `receipt: ${receipt.status} ${JSON.stringify(receipt.body)}`);
    if (receipt.body.state === "Ready") return receipt.body;
    await sleep(50);
  }
  throw new Error(`no receipt for ${id}`);
}

async function main() {
  const steps = [];
  const alpha = client("alpha", "VELLUM_ADMIN_CERT", "VELLUM_ADMIN_KEY");
  const beta = client("beta", "VELLUM_ADMIN_CERT", "VELLUM_ADMIN_KEY");

  // Each ledger takes its own writes and reads back only its own.
  const written = {};
  for (const [name, ledger] of [["alpha", alpha], ["beta", beta]]) {
    const post = await ledger.path("/app/transactions").post({ body: { contents: `for ${name}` }, contentType: "application/json" });
    check(!isUnexpected(post), `${name} post: ${post.status} ${JSON.stringify(post.body)}`);
    written[name] = post.headers["x-ms-ccf-transaction-id"];
  }
  for (const [name, ledger] of [["alpha", alpha], ["beta", beta]]) {
    let entry;
    for (let attempt = 0; attempt < 50; attempt++) {
      entry = await ledger.path("/app/transactions/{transactionId}", written[name]).get();
      check(!isUnexpected(entry), `${name} get: ${entry.status}`);
      if (entry.body.state === "Ready") break;
      await sleep(50);
    }
    check(entry.body.entry.contents === `for ${name}`, `${name} read back: ${JSON.stringify(entry.body)}`);
    const current = await ledger.path("/app/transactions/current").get();
    check(!isUnexpected(current) && current.body.contents === `for ${name}`, `${name} current: ${JSON.stringify(current.body)}`);
  }
  steps.push("write");

  // Receipts from each, handed to the C# side (which checks each against both service certificates).
  const receipts = { alpha: await committedReceipt(alpha, written.alpha), beta: await committedReceipt(beta, written.beta) };
  fs.writeFileSync(env("VELLUM_RECEIPTS_OUT"), JSON.stringify(receipts));
  steps.push("receipt");

  // A Reader of alpha reads alpha and is unknown to beta: 401 in the ACL error shape.
  const readerId = env("VELLUM_READER_ID");
  const patch = await alpha.path("/app/users/{userId}", readerId).patch({ body: { assignedRole: "Reader" }, contentType: "application/merge-patch+json" });
  check(patch.status === "200", `patch user: ${patch.status} ${JSON.stringify(patch.body)}`);
  const readerOfAlpha = client("alpha", "VELLUM_READER_CERT", "VELLUM_READER_KEY");
  const allowed = await readerOfAlpha.path("/app/transactions/{transactionId}", written.alpha).get();
  check(!isUnexpected(allowed) && allowed.body.entry.contents === "for alpha", `reader on alpha: ${allowed.status}`);
  const readerOnBeta = client("beta", "VELLUM_READER_CERT", "VELLUM_READER_KEY");
  const refused = await readerOnBeta.path("/app/transactions/{transactionId}", written.beta).get();
  check(refused.status === "401" && refused.body.error.code === "InvalidAuthenticationInfo", `reader on beta: ${refused.status} ${JSON.stringify(refused.body)}`);
  steps.push("users");

  // A client that pins alpha's service certificate cannot talk to beta: the TLS handshake fails.
  const crossed = ConfidentialLedger(`https://beta.localhost:${env("VELLUM_PORT")}`, read("VELLUM_ALPHA_CERT"),
    { tlsOptions: { cert: read("VELLUM_ADMIN_CERT"), key: read("VELLUM_ADMIN_KEY"), lookup } });
  let tlsRefused = false;
  try {
    await crossed.path("/app/transactions/current").get();
  } catch (error) {
    tlsRefused = true;
  }
  check(tlsRefused, "a client pinning alpha's certificate reached beta");
  steps.push("pinning");

  console.log(JSON.stringify({ ok: true, steps }));
}

main().catch((error) => {
  console.log(JSON.stringify({ ok: false, error: String(error && error.stack || error) }));
  process.exit(1);
});
