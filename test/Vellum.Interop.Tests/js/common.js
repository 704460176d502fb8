// What every interop script needs: environment variables (required), files they name, checks and pauses.
"use strict";
const fs = require("fs");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const read = (name) => fs.readFileSync(env(name), "utf8");
const check = (condition, message) => { if (!condition) throw new Error(message); };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = { env, read, check, sleep };
