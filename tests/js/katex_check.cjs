// Reads a JSON list of {tex, display} from stdin; prints a JSON list of the fragments KaTeX rejects.
const katex = require("katex");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const failures = [];
  for (const { tex, display } of JSON.parse(input)) {
    try {
      katex.renderToString(tex, { displayMode: display, throwOnError: true, strict: "error" });
    } catch (error) {
      failures.push({ tex, error: String(error.message || error) });
    }
  }
  process.stdout.write(JSON.stringify(failures));
});
