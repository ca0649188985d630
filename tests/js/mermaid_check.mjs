// Reads JSON lists of Mermaid diagrams from stdin, one list per line; for each, prints one line: a JSON
// list of the diagrams Mermaid rejects.  One process serves a whole test session (Mermaid and jsdom
// take a second to load).
import { createInterface } from "node:readline";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const failures = [];
  for (const diagram of JSON.parse(line)) {
    try {
      await mermaid.parse(diagram);
    } catch (error) {
      failures.push({ diagram, error: String(error.message || error) });
    }
  }
  process.stdout.write(JSON.stringify(failures) + "\n");
}
