// The official Azure Resource Manager client for Confidential Ledger (@azure/arm-confidentialledger 1.2.0), unmodified,
// against the ARM-shaped control plane of a Vellum deployment: it checks a name, creates a ledger (a long-running
// operation), reads, lists, updates and finally deletes it; in between the data-plane client
// (@azure-rest/confidential-ledger 1.0.0) writes to the new ledger as the Entra ID principal named at creation, taking
// the ledger's certificate from the identity service URI the control plane reported. Both sign in with client-credential
// tokens (one TokenCredential each). Environment: VELLUM_MANAGEMENT, VELLUM_TOKEN_URL, VELLUM_TOKEN_CA, VELLUM_CLIENT_ID,
// VELLUM_CLIENT_SECRET, VELLUM_SUBSCRIPTION, VELLUM_RESOURCE_GROUP, VELLUM_LEDGER_NAME, VELLUM_PRINCIPAL_ID,
// VELLUM_TENANT_ID, VELLUM_READER_ID. Exits 0 when every step behaved; prints one JSON line.
"use strict";
const { env, read, check, sleep, clientCredential, resolveLocalhostTo127 } = require("./common");

// Before any client exists: the ledger lives at https://{name}.localhost:{port}, which does not resolve here.
resolveLocalhostTo127();

const { ConfidentialLedgerClient } = require("@azure/arm-confidentialledger");
const { default: ConfidentialLedger, getLedgerIdentity, isUnexpected } = require("@azure-rest/confidential-ledger");

const type = "Microsoft.ConfidentialLedger/ledgers";
const poll = { updateIntervalInMs: 500 };
const steps = [];

// An Azure RestError says what the server answered: its status and body.
function describe(error) {
  let text = String(error && error.stack || error);
  if (error && (error.statusCode !== undefined || error.response)) {
    text += ` [statusCode ${error.statusCode}, code ${error.code}, body ${error.response?.bodyAsText}]`;
  }
  return text;
}

const show = (value) => JSON.stringify(value);

async function collect(pages) {
  const names = [];
  for await (const ledger of pages) names.push(ledger.name);
  return names;
}

const samePrincipal = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();

async function main() {
  const management = env("VELLUM_MANAGEMENT").replace(/\/+$/, "");
  const tokenUrl = env("VELLUM_TOKEN_URL");
  const tokenCa = read("VELLUM_TOKEN_CA");
  const clientId = env("VELLUM_CLIENT_ID");
  const clientSecret = env("VELLUM_CLIENT_SECRET");
  const subscription = env("VELLUM_SUBSCRIPTION");
  const resourceGroup = env("VELLUM_RESOURCE_GROUP");
  const name = env("VELLUM_LEDGER_NAME");
  const principalId = env("VELLUM_PRINCIPAL_ID");
  const tenantId = env("VELLUM_TENANT_ID");
  const readerId = env("VELLUM_READER_ID");

  // The client asks its credential for `${endpoint}/.default`; $host is where its request paths start.
  const managementCredential = clientCredential(tokenUrl, tokenCa, clientId, clientSecret);
  const client = new ConfidentialLedgerClient(managementCredential, subscription, { $host: management, endpoint: management });

  const available = await client.checkNameAvailability({ name, type });
  check(available.nameAvailable === true, `checkNameAvailability before create: ${show(available)}`);
  steps.push("available");

  const administrator = { principalId, tenantId, ledgerRoleName: "Administrator" };
  const created = await client.ledger.beginCreateAndWait(resourceGroup, name, {
    location: "eastus",
    tags: { purpose: "interop" },
    properties: { ledgerType: "Public", aadBasedSecurityPrincipals: [administrator] },
  }, poll);
  check(created && created.properties, `create returned no properties: ${show(created)}`);
  check(created.properties.provisioningState === "Succeeded", `create provisioningState: ${show(created)}`);
  check(typeof created.properties.ledgerUri === "string", `create ledgerUri: ${show(created)}`);
  check(typeof created.properties.identityServiceUri === "string", `create identityServiceUri: ${show(created)}`);
  check(created.name === name, `create name: ${show(created)}`);
  steps.push("create");

  const taken = await client.checkNameAvailability({ name, type });
  check(taken.nameAvailable === false && taken.reason === "AlreadyExists", `checkNameAvailability after create: ${show(taken)}`);
  steps.push("taken");

  const got = await client.ledger.get(resourceGroup, name);
  check(got.name === name, `get name: ${show(got)}`);
  check(got.tags && got.tags.purpose === "interop", `get tags: ${show(got)}`);
  check(got.properties && got.properties.ledgerType === "Public", `get ledgerType: ${show(got)}`);
  steps.push("get");

  const inGroup = await collect(client.ledger.listByResourceGroup(resourceGroup));
  check(inGroup.includes(name), `listByResourceGroup(${resourceGroup}) lacks ${name}: ${show(inGroup)}`);
  const publicOnes = await collect(client.ledger.listBySubscription({ filter: "ledgerType eq 'Public'" }));
  check(publicOnes.includes(name), `listBySubscription(ledgerType eq 'Public') lacks ${name}: ${show(publicOnes)}`);
  const privateOnes = await collect(client.ledger.listBySubscription({ filter: "ledgerType eq 'Private'" }));
  check(!privateOnes.includes(name), `listBySubscription(ledgerType eq 'Private') lists ${name}: ${show(privateOnes)}`);
  steps.push("list");

  const reader = { principalId: readerId, tenantId, ledgerRoleName: "Reader" };
  await client.ledger.beginUpdateAndWait(resourceGroup, name, {
    location: "eastus",
    tags: { purpose: "interop", stage: "updated" },
    properties: { ledgerType: "Public", aadBasedSecurityPrincipals: [administrator, reader] },
  }, poll);
  const updated = await client.ledger.get(resourceGroup, name);
  check(updated.tags && updated.tags.stage === "updated" && updated.tags.purpose === "interop", `tags after update: ${show(updated)}`);
  const principals = (updated.properties && updated.properties.aadBasedSecurityPrincipals) || [];
  for (const expected of [administrator, reader]) {
    const found = principals.find((p) => samePrincipal(p.principalId, expected.principalId));
    check(found && found.ledgerRoleName === expected.ledgerRoleName,
      `principal ${expected.principalId} as ${expected.ledgerRoleName} after update: ${show(principals)}`);
  }
  steps.push("update");

  // getLedgerIdentity(id, base) requests `${base}/ledgerIdentity/${id}`: the base is the identity URI without that tail.
  const { ledgerUri, identityServiceUri } = created.properties;
  const identityTail = /^(.*)\/ledgerIdentity\/([^/?#]+)\/?$/.exec(identityServiceUri);
  check(identityTail && decodeURIComponent(identityTail[2]) === name, `identityServiceUri does not end in /ledgerIdentity/${name}: ${identityServiceUri}`);
  let identity;
  try {
    identity = await getLedgerIdentity(name, identityTail[1]);
  } catch (error) {
    throw new Error(`ledger identity from ${identityServiceUri}: ${describe(error)}`);
  }
  check(identity.ledgerId === name, `ledger identity names ${identity.ledgerId}, not ${name}`);
  const dataCredential = clientCredential(tokenUrl, tokenCa, clientId, clientSecret);
  const ledger = ConfidentialLedger(ledgerUri, identity.ledgerIdentityCertificate, dataCredential);
  const contents = "written through the ARM-made ledger";
  const post = await ledger.path("/app/transactions").post({ body: { contents }, contentType: "application/json" });
  check(!isUnexpected(post), `post to ${ledgerUri}: ${post.status} ${show(post.body)}`);
  const transactionId = post.headers["x-ms-ccf-transaction-id"];
  check(transactionId, `post to ${ledgerUri} returned no x-ms-ccf-transaction-id: ${show(post.headers)}`);
  let entry;
  for (let attempt = 0; attempt < 100; attempt++) {
    entry = await ledger.path("/app/transactions/{transactionId}", transactionId).get();
    check(!isUnexpected(entry), `get ${transactionId}: ${entry.status} ${show(entry.body)}`);
    if (entry.body.state === "Ready") break;
    await sleep(50);
  }
  check(entry.body.state === "Ready", `transaction ${transactionId} never became Ready: ${show(entry.body)}`);
  check(entry.body.entry && entry.body.entry.contents === contents, `read back ${transactionId}: ${show(entry.body)}`);
  steps.push("data");

  await client.ledger.beginDeleteAndWait(resourceGroup, name, poll);
  let missing;
  try {
    const still = await client.ledger.get(resourceGroup, name);
    missing = new Error(`get after delete still answers: ${show(still)}`);
  } catch (error) {
    missing = error;
  }
  check(missing.statusCode === 404, `get after delete: expected a 404, got ${describe(missing)}`);
  const free = await client.checkNameAvailability({ name, type });
  check(free.nameAvailable === true, `checkNameAvailability after delete: ${show(free)}`);
  steps.push("delete");

  console.log(JSON.stringify({ ok: true, steps }));
}

main().catch((error) => { console.log(JSON.stringify({ ok: false, steps, error: describe(error) })); process.exit(1); });
