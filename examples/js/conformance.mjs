// Runs the store conformance cases (conformance/store.json) against store.js: the same cases
// the Rust stores pass. Usage: node conformance.mjs
import * as store from "./store.js";
import { checkStore } from "../../conformance/store.mjs";

const { cases, steps } = checkStore(() => {
  store.reset();
  return store;
});
console.log(`js store conformance: ${cases} cases, ${steps} steps: ok`);
