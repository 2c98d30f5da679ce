// greeting is the one piece of logic of the API, kept apart to be tested.
function greeting(name) {
  return `Hello, ${name || "world"}!`;
}

module.exports = { greeting };
