// A small API: a greeting and a health endpoint.
const express = require("express");
const { greeting } = require("./greeting");

const app = express();

app.get("/", (req, res) => {
  res.json({ message: greeting(req.query.name) });
});

app.get("/health", (req, res) => {
  res.json({ status: "ok" });
});

if (require.main === module) {
  const port = Number(process.env.PORT || 3000);
  app.listen(port, () => console.log(`greeter-api listening on ${port}`));
}

module.exports = app;
