// What every interop script needs: environment variables (required), files they name, checks and pauses, a
// client-credentials TokenCredential and, for scripts that address ledgers by host name, local name resolution.
"use strict";
const dns = require("dns");
const fs = require("fs");
const https = require("https");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const read = (name) => fs.readFileSync(env(name), "utf8");
const check = (condition, message) => { if (!condition) throw new Error(message); };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A TokenCredential (@azure/core-auth): getToken(scopes) → { token, expiresOnTimestamp }, by the client-credentials grant.
function clientCredential(tokenUrl, ca, clientId, clientSecret) {
  let requests = 0;
  return {
    get requests() { return requests; },
    getToken(scopes) {
      requests++;
      const body = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, scope: [].concat(scopes).join(" ") }).toString();
      return new Promise((resolve, reject) => {
        const request = https.request(tokenUrl, { method: "POST", ca, headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) } }, (response) => {
          let text = "";
          response.on("data", (chunk) => { text += chunk; });
          response.on("end", () => {
            if (response.statusCode !== 200) { reject(new Error(`token endpoint: ${response.statusCode} ${text}`)); return; }
            const json = JSON.parse(text);
            resolve({ token: json.access_token, expiresOnTimestamp: Date.now() + json.expires_in * 1000 });
          });
        });
        request.on("error", reject);
        request.end(body);
      });
    },
  };
}

// Makes `localhost` and every name under `.localhost` resolve to 127.0.0.1 for this process: such names do not resolve
// here, `localhost` may answer ::1 first, and the node listens on 127.0.0.1. Node's net (so http, https and every
// Azure client) calls dns.lookup when it connects, asking for all addresses ({ all: true }) when it may try several
// families; any other name goes to the original lookup.
function resolveLocalhostTo127() {
  const original = dns.lookup;
  if (original.resolvesLocalhostTo127) return;
  const lookup = function lookup(hostname, options, callback) {
    if (typeof options === "function") { callback = options; options = {}; }
    const host = typeof hostname === "string" ? hostname.toLowerCase().replace(/\.$/, "") : "";
    if (host !== "localhost" && !host.endsWith(".localhost")) return original.call(this, hostname, options, callback);
    const all = typeof options === "object" && options !== null && options.all === true;
    process.nextTick(() => (all ? callback(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4)));
    return {};
  };
  lookup.resolvesLocalhostTo127 = true;
  dns.lookup = lookup;
}

module.exports = { env, read, check, sleep, clientCredential, resolveLocalhostTo127 };
