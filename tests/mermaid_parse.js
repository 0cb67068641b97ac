// Parse Mermaid sources with the real, vendored Mermaid (node tests/mermaid_parse.js SCRIPT.gz FILE...):
// one JSON line per file with the entities and relationships Mermaid read, or its error.
globalThis.window = globalThis;
globalThis.addEventListener = () => {};
globalThis.document = { createElement: () => ({ style: {} }), querySelector: () => null,
  addEventListener: () => {}, body: {}, documentElement: { style: {} } };
globalThis.navigator = { userAgent: 'node' };
const fs = require('fs');
const zlib = require('zlib');
const script = zlib.gunzipSync(fs.readFileSync(process.argv[2])).toString('utf8');
require('vm').runInThisContext(script);
(async () => {
  for (const file of process.argv.slice(3)) {
    const src = fs.readFileSync(file, 'utf8');
    try {
      await globalThis.mermaid.parse(src);
      const diagram = await globalThis.mermaid.mermaidAPI.getDiagramFromText(src);
      const db = diagram.db;
      const entities = [...db.getEntities().values()].map(e => e.label);
      const rels = db.getRelationships().map(r => [r.entityA, r.roleA, r.entityB, r.relSpec]);
      console.log(JSON.stringify({ file, ok: true, entities, rels }));
    } catch (e) {
      console.log(JSON.stringify({ file, ok: false, error: String(e.message || e) }));
    }
  }
})();
