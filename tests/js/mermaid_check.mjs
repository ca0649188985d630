// Reads a JSON list of Mermaid diagrams from stdin; prints a JSON list of those Mermaid rejects.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const failures = [];
for (const diagram of JSON.parse(input)) {
  try {
    await mermaid.parse(diagram);
  } catch (error) {
    failures.push({ diagram, error: String(error.message || error) });
  }
}
process.stdout.write(JSON.stringify(failures));
