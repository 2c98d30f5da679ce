const test = require("node:test");
const assert = require("node:assert");
const { greeting } = require("../src/greeting");

test("greets the world when no name is given", () => {
  assert.strictEqual(greeting(), "Hello, world!");
});

test("greets by name", () => {
  assert.strictEqual(greeting("Ada"), "Hello, Ada!");
});
