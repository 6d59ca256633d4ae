// Verifies a Lead Routing webhook delivery: node verify.js SECRET SIGNATURE_HEADER < raw_body
const crypto = require("crypto");

function verify(secret, header, body, tolerance = 300) {
  const parts = Object.fromEntries(header.split(",").map((p) => p.split("=", 2)));
  const expected = crypto.createHmac("sha256", secret).update(`${parts.t}.`).update(body).digest("hex");
  return Math.abs(Date.now() / 1000 - Number(parts.t)) <= tolerance && expected.length === (parts.v1 || "").length
    && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(parts.v1));
}

const body = require("fs").readFileSync(0);
console.log(verify(process.argv[2], process.argv[3], body) ? "valid" : "invalid");
